import keras
import numpy as np

from keras_ssl.augmentation import RandomGaussianBlur
from keras_ssl.testing import TestCase


def float_images(n=4, size=8, channels=3, seed=0):
    return TestCase.make_images(n, size, channels, seed).astype("float32") / 255.0


def np_out(x):
    return keras.ops.convert_to_numpy(x)


def numpy_blur(images, kernel_size, sigma):
    """Separable Gaussian blur with reflect padding, one image at a time."""
    r = kernel_size // 2
    g = np.exp(-(np.arange(-r, r + 1) ** 2) / (2 * sigma**2))
    g /= g.sum()
    padded = np.pad(images, ((0, 0), (r, r), (r, r), (0, 0)), mode="reflect")
    h, w = images.shape[1:3]
    rows = sum(g[k] * padded[:, k : k + h] for k in range(kernel_size))
    return sum(g[k] * rows[:, :, k : k + w] for k in range(kernel_size))


def test_matches_numpy_reference_for_a_fixed_sigma():
    images = float_images()
    blur = RandomGaussianBlur(5, sigma=(1.3, 1.3), probability=1.0, seed=0)
    out = np_out(blur(images, training=True))
    np.testing.assert_allclose(out, numpy_blur(images, 5, 1.3), atol=1e-5)


def test_constant_image_stays_constant():
    images = np.full((3, 8, 8, 3), 0.37, "float32")
    out = np_out(RandomGaussianBlur(5, (0.1, 2.0), 1.0, seed=0)(images))
    np.testing.assert_allclose(out, images, atol=1e-6)
    # Even with a kernel wider than the image.
    tiny = np.full((2, 2, 3, 1), 0.6, "float32")
    out = np_out(RandomGaussianBlur(7, (1.0, 2.0), 1.0, seed=0)(tiny))
    np.testing.assert_allclose(out, tiny, atol=1e-6)


def test_preserves_mean_and_smooths_a_large_image():
    y, x = np.mgrid[0:32, 0:32] / 32.0
    smooth = 0.5 + 0.4 * np.sin(2 * np.pi * y) * np.cos(2 * np.pi * x)
    noise = np.random.default_rng(0).random((32, 32))
    images = np.stack([smooth, noise])[..., None].astype("float32")
    out = np_out(RandomGaussianBlur(7, (1.5, 2.0), 1.0, seed=0)(images))
    np.testing.assert_allclose(
        out.mean(axis=(1, 2, 3)), images.mean(axis=(1, 2, 3)), atol=5e-3
    )
    assert out[1].std() < 0.5 * images[1].std()


def test_tiny_sigma_is_identity():
    images = float_images()
    out = np_out(RandomGaussianBlur(3, (1e-3, 1e-3), 1.0, seed=0)(images))
    np.testing.assert_allclose(out, images, atol=1e-7)


def test_probability_zero_is_identity():
    images = float_images()
    out = np_out(RandomGaussianBlur(3, probability=0.0, seed=0)(images))
    np.testing.assert_array_equal(out, images)


def test_each_image_draws_its_own_sigma_and_coin():
    images = np.repeat(float_images(n=1), 16, axis=0)
    out = np_out(RandomGaussianBlur(3, (0.2, 2.0), 1.0, seed=0)(images))
    assert len({o.tobytes() for o in out}) == 16
    out = np_out(RandomGaussianBlur(3, (0.5, 2.0), 0.5, seed=0)(images))
    kept = [np.array_equal(o, images[0]) for o in out]
    assert 0 < sum(kept) < 16
