import math

import keras
import numpy as np

from keras_ssl.augmentation import RandomRotation
from keras_ssl.testing import TestCase


def float_images(n=4, size=8, channels=3, seed=0):
    return TestCase.make_images(n, size, channels, seed).astype("float32") / 255.0


def np_out(x):
    return keras.ops.convert_to_numpy(x)


def blob(size=16, width=3.0):
    y, x = np.mgrid[0:size, 0:size] - (size - 1) / 2
    return np.exp(-(x**2 + y**2) / (2 * width**2)).astype("float32")


def test_zero_degrees_or_probability_is_identity():
    images = float_images()
    for layer in (RandomRotation(0, seed=0), RandomRotation(30, 0.0, seed=0)):
        np.testing.assert_array_equal(np_out(layer(images, training=True)), images)


def test_quarter_turn_matches_rot90():
    images = float_images(n=2)
    out = np_out(RandomRotation(seed=0)._rotate(images, np.full((2,), math.pi / 2)))
    np.testing.assert_allclose(out, np.rot90(images, 1, axes=(1, 2)), atol=1e-5)


def test_centred_symmetric_image_stays_close():
    images = np.repeat(blob()[None, ..., None], 8, axis=0)
    out = np_out(RandomRotation(15, seed=0)(images, training=True))
    assert np.abs(out - images).max() < 0.03


def test_fills_outside_with_zeros():
    images = np.ones((1, 9, 9, 1), "float32")
    out = np_out(RandomRotation(seed=0)._rotate(images, np.array([math.pi / 4])))
    assert out[0, 0, 0, 0] == 0.0 and out[0, -1, -1, 0] == 0.0
    assert out[0, 4, 4, 0] == 1.0
    assert out.min() >= 0.0 and out.max() <= 1.0 + 1e-6


def test_each_image_draws_its_own_angle():
    images = np.repeat(float_images(n=1), 8, axis=0)
    out = np_out(RandomRotation(20, seed=0)(images, training=True))
    assert len({o.tobytes() for o in out}) == 8
