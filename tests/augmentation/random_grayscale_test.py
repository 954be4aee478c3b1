import keras
import numpy as np
import tensorflow as tf

from keras_ssl.augmentation import RandomGrayscale
from keras_ssl.testing import TestCase


def float_images(n=8, size=8, channels=3, seed=0):
    return TestCase.make_images(n, size, channels, seed).astype("float32") / 255.0


def np_out(x):
    return keras.ops.convert_to_numpy(x)


def test_always_applied_gives_luminance_in_every_channel():
    images = float_images()
    out = np_out(RandomGrayscale(1.0, seed=0)(images, training=True))
    luma = images @ np.array([0.2989, 0.5870, 0.1140], "float32")
    np.testing.assert_allclose(out, np.repeat(luma[..., None], 3, -1), atol=1e-6)
    # The same weights as TensorFlow's own conversion.
    expected = tf.image.rgb_to_grayscale(images).numpy()
    np.testing.assert_allclose(out[..., :1], expected, atol=1e-6)


def test_probability_zero_is_identity():
    images = float_images()
    out = np_out(RandomGrayscale(0.0, seed=0)(images, training=True))
    np.testing.assert_array_equal(out, images)


def test_greyscale_input_passes_through():
    images = float_images(channels=1)
    out = np_out(RandomGrayscale(1.0, seed=0)(images, training=True))
    np.testing.assert_array_equal(out, images)


def test_each_image_draws_its_own_coin():
    images = float_images(n=64)
    out = np_out(RandomGrayscale(0.5, seed=0)(images, training=True))
    grey = [np.allclose(o[..., 0], o[..., 1]) for o in out]
    kept = [np.array_equal(o, i) for o, i in zip(out, images)]
    assert 10 < sum(grey) < 54
    assert sum(grey) + sum(kept) == 64
