"""keras_ssl: self-supervised learning for Keras 3 on the TensorFlow backend.

Importing the package pins Keras to the TensorFlow backend when no backend was
chosen, and refuses to import under any other backend, because the training
loop, distribution and export code are written for TensorFlow.
"""

import os


def _refuse_backend(name):
    raise ImportError(
        "keras_ssl requires the TensorFlow backend of Keras 3. Received: "
        f"KERAS_BACKEND={name!r}. Expected: 'tensorflow'. Set the environment "
        "variable KERAS_BACKEND=tensorflow (or leave it unset) before "
        "importing keras or keras_ssl."
    )


# Checked before importing keras, whose other backends may fail to import.
if os.environ.setdefault("KERAS_BACKEND", "tensorflow") != "tensorflow":
    _refuse_backend(os.environ["KERAS_BACKEND"])
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

if keras.backend.backend() != "tensorflow":  # e.g. set in ~/.keras/keras.json
    _refuse_backend(keras.backend.backend())

from keras_ssl.version import __version__  # noqa: E402

__all__ = ["__version__"]
