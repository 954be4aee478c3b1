"""keras_ssl: self-supervised learning for Keras 3 on the TensorFlow backend.

Importing the package pins Keras to the TensorFlow backend when no backend was
chosen, and refuses to import under any other backend, because the training
loop, distribution and export code are written for TensorFlow.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        "keras_ssl requires the TensorFlow backend of Keras 3. Received: "
        f"KERAS_BACKEND={keras.backend.backend()!r}. Expected: 'tensorflow'. "
        "Set the environment variable KERAS_BACKEND=tensorflow (or leave it "
        "unset) before importing keras or keras_ssl."
    )

from keras_ssl.version import __version__  # noqa: E402

__all__ = ["__version__"]
