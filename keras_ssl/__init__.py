"""keras_ssl: self-supervised learning for Keras 3 on the TensorFlow backend.

`import keras_ssl` gives the whole library as attributes, like `keras_hub`:
`keras_ssl.models`, `keras_ssl.losses`, `keras_ssl.layers`,
`keras_ssl.augmentation`, `keras_ssl.metrics`, `keras_ssl.encoders`,
`keras_ssl.tokenizers`, `keras_ssl.datasets`, `keras_ssl.evaluation`,
`keras_ssl.callbacks`, `keras_ssl.export`, `keras_ssl.visualization`,
`keras_ssl.distribute`, `keras_ssl.checks`, `keras_ssl.schedules` and
`keras_ssl.recipes` (one pretraining recipe per method). Every
serializable class is registered with Keras by then, so
`keras.saving.load_model("model.keras")` works right after `import
keras_ssl`. The application (`keras_ssl.app`: workflows, CLI) and the
hyperparameter search (`keras_ssl.tuning`, which needs the optional
keras-tuner) are imported on demand.

Importing the package pins Keras to the TensorFlow backend when no backend
was chosen (the one environment variable it may set), and refuses to import
under any other backend, because the training loop, distribution and export
code are written for TensorFlow.
"""

import os
import sys


def _refuse_backend(name):
    raise ImportError(
        "keras_ssl requires the TensorFlow backend of Keras 3. Received: "
        f"KERAS_BACKEND={name!r}. Expected: 'tensorflow'. Set the environment "
        "variable KERAS_BACKEND=tensorflow (or leave it unset) before "
        "importing keras or keras_ssl."
    )


def _is_console_script(argv0):
    """Whether the program running is the `keras-ssl` console script."""
    # `/venv/bin/keras-ssl`, or `...\Scripts\keras-ssl.exe` on Windows.
    name = (argv0 or "").replace("\\", "/").rsplit("/", 1)[-1]
    return os.path.splitext(name)[0] in ("keras-ssl", "keras-ssl-script")


# Checked before importing keras, whose other backends may fail to import.
if os.environ.setdefault("KERAS_BACKEND", "tensorflow") != "tensorflow":
    _refuse_backend(os.environ["KERAS_BACKEND"])

# The `keras-ssl` command quiets TensorFlow's C++ start-up logs, for its own
# process only. TensorFlow reads `TF_CPP_MIN_LOG_LEVEL` once, when its native
# library loads, and the console script's module (`keras_ssl.app.cli`)
# imports this package, hence TensorFlow, before its `main` runs: so the
# check is here, keyed on the program's name, and a library user's
# environment is never touched. A value the user set is kept.
if _is_console_script((getattr(sys, "argv", None) or [""])[0]):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

if keras.backend.backend() != "tensorflow":  # e.g. set in ~/.keras/keras.json
    _refuse_backend(keras.backend.backend())

# The public API, as attributes. Importing `models` (and the packages with
# layers, losses and augmentations) registers every serializable class.
from keras_ssl import (  # noqa: E402
    augmentation,
    callbacks,
    checks,
    datasets,
    distribute,
    encoders,
    evaluation,
    export,
    layers,
    losses,
    metrics,
    models,
    recipes,
    schedules,
    tokenizers,
    visualization,
)
from keras_ssl.version import __version__  # noqa: E402

__all__ = [
    "__version__",
    "augmentation",
    "callbacks",
    "checks",
    "datasets",
    "distribute",
    "encoders",
    "evaluation",
    "export",
    "layers",
    "losses",
    "metrics",
    "models",
    "recipes",
    "schedules",
    "tokenizers",
    "visualization",
]
