"""Suite-wide set-up: pin the TensorFlow backend before anything imports keras."""

import keras_ssl  # noqa: F401  (sets KERAS_BACKEND=tensorflow on import)
