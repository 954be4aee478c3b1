import math

import keras
import numpy as np

from keras_ssl.augmentation import RandomHueSaturation
from keras_ssl.augmentation.random_hue_saturation import RGB_TO_YIQ


def np_out(x):
    return keras.ops.convert_to_numpy(x)


def mid_images(n=16, size=4, seed=0):
    """Colours in [0.4, 0.6]: hue and saturation changes stay unclipped."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.4, 0.6, (n, size, size, 3)).astype("float32")


def yiq(images):
    return images.astype("float64") @ RGB_TO_YIQ.T


def test_greyscale_input_passes_through():
    images = mid_images()[..., :1]
    out = np_out(RandomHueSaturation(0.5, 1.0, 1.0, seed=0)(images))
    np.testing.assert_array_equal(out, images)


def test_zero_strength_or_probability_is_identity():
    images = mid_images()
    for layer in (
        RandomHueSaturation(0.0, 0.0, 1.0, seed=0),
        RandomHueSaturation(0.5, 1.0, 0.0, seed=0),
    ):
        np.testing.assert_allclose(np_out(layer(images)), images, atol=1e-5)


def test_keeps_luma_and_grey_pixels():
    images = mid_images()
    images[:, 0, 0, :] = 0.5  # a grey pixel has no chroma to change
    out = np_out(RandomHueSaturation(0.1, 0.4, 1.0, seed=0)(images))
    np.testing.assert_allclose(yiq(out)[..., 0], yiq(images)[..., 0], atol=1e-5)
    np.testing.assert_allclose(out[:, 0, 0, :], 0.5, atol=1e-5)
    assert np.abs(out - images).max() > 0.01


def test_chroma_is_scaled_and_rotated_within_bounds():
    images = mid_images()
    out = np_out(RandomHueSaturation(0.05, 0.3, 1.0, seed=0)(images))
    before = yiq(images)[..., 1:].reshape(16, -1, 2)
    after = yiq(out)[..., 1:].reshape(16, -1, 2)
    ratio = np.linalg.norm(after, axis=-1) / np.linalg.norm(before, axis=-1)
    # One saturation factor per image, within [1 - 0.3, 1 + 0.3].
    np.testing.assert_allclose(ratio, ratio[:, :1] * np.ones_like(ratio), rtol=1e-3)
    assert ratio.min() >= 0.7 - 1e-3 and ratio.max() <= 1.3 + 1e-3
    assert ratio[:, 0].std() > 0.05
    # One hue rotation per image, at most 0.05 of a turn.
    angle = np.arctan2(after[..., 1], after[..., 0]) - np.arctan2(
        before[..., 1], before[..., 0]
    )
    angle = (angle + np.pi) % (2 * np.pi) - np.pi
    np.testing.assert_allclose(angle, angle[:, :1] * np.ones_like(angle), atol=1e-3)
    assert np.abs(angle).max() <= 0.05 * 2 * math.pi + 1e-3


def test_clips_to_unit_range():
    images = np.random.default_rng(1).random((8, 4, 4, 3)).astype("float32")
    out = np_out(RandomHueSaturation(0.5, 1.0, 1.0, seed=0)(images))
    assert out.min() >= 0.0 and out.max() <= 1.0
