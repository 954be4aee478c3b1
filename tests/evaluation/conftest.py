import numpy as np
import pytest

import keras_ssl  # noqa: F401  (pins the TensorFlow backend before keras)


def make_blobs(num_examples, num_classes=3, dim=8, spread=0.3, seed=0):
    """Gaussian blobs around random unit centres; returns (x, y)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(num_classes, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    y = rng.integers(0, num_classes, size=num_examples)
    x = centres[y] + spread * rng.normal(size=(num_examples, dim))
    return x.astype("float32"), y


@pytest.fixture
def blobs():
    x, y = make_blobs(400)
    return x[:300], y[:300], x[300:], y[300:]
