"""Repository-wide pytest set-up: the names docstring examples may use.

`pytest --doctest-modules keras_ssl` runs the `>>>` examples in the library's
docstrings. Each example may use `np` (NumPy), `keras`, `ops` (`keras.ops`),
`tf` (TensorFlow) and `keras_ssl` without importing them, and runs in a
fresh temporary working directory, so that a relative path it writes to
never lands in the repository. Importing `keras_ssl` first pins Keras to the
TensorFlow backend.
"""

import numpy as np
import pytest

import keras_ssl  # noqa: F401  (sets KERAS_BACKEND=tensorflow on import)


@pytest.fixture(scope="session", autouse=True)
def _doctest_names(doctest_namespace):
    """Puts `np`, `keras`, `ops`, `tf` and `keras_ssl` in every doctest."""
    import keras
    import tensorflow as tf

    doctest_namespace["np"] = np
    doctest_namespace["keras"] = keras
    doctest_namespace["ops"] = keras.ops
    doctest_namespace["tf"] = tf
    doctest_namespace["keras_ssl"] = keras_ssl


@pytest.fixture(autouse=True)
def _doctest_working_directory(request):
    """Runs each docstring example in its own temporary working directory."""
    if isinstance(request.node, pytest.DoctestItem):
        tmp_path = request.getfixturevalue("tmp_path")
        request.getfixturevalue("monkeypatch").chdir(tmp_path)
