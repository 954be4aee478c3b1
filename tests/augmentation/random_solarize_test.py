import keras
import numpy as np

from keras_ssl.augmentation import RandomSolarize
from keras_ssl.testing import TestCase


def np_out(x):
    return keras.ops.convert_to_numpy(x)


def test_exact_values_at_and_around_the_threshold():
    values = np.array([0.0, 0.25, 0.49, 0.5, 0.75, 1.0], "float32")
    images = np.tile(values, (2, 1))[:, None, :, None]
    out = np_out(RandomSolarize(0.5, probability=1.0, seed=0)(images))
    expected = np.array([0.0, 0.25, 0.49, 0.5, 0.25, 0.0], "float32")
    np.testing.assert_allclose(out[:, 0, :, 0], np.tile(expected, (2, 1)), atol=1e-7)


def test_threshold_extremes():
    images = TestCase.make_images(4, 8, 3).astype("float32") / 255.0
    all_inverted = np_out(RandomSolarize(0.0, 1.0, seed=0)(images))
    np.testing.assert_allclose(all_inverted, 1.0 - images, atol=1e-7)
    none_inverted = np_out(RandomSolarize(1.0, 1.0, seed=0)(images * 0.99))
    np.testing.assert_array_equal(none_inverted, images * 0.99)


def test_probability_zero_is_identity():
    images = TestCase.make_images(4, 8, 3).astype("float32") / 255.0
    out = np_out(RandomSolarize(0.5, 0.0, seed=0)(images, training=True))
    np.testing.assert_array_equal(out, images)


def test_each_image_draws_its_own_coin():
    images = np.full((64, 2, 2, 1), 0.8, "float32")
    out = np_out(RandomSolarize(0.5, 0.5, seed=0)(images))[:, 0, 0, 0]
    np.testing.assert_allclose(np.minimum(abs(out - 0.2), abs(out - 0.8)), 0, atol=1e-6)
    assert 10 < (out < 0.5).sum() < 54
