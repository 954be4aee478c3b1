import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.augmentation import (
    RandomColorJitter,
    RandomHorizontalFlip,
    RandomResizedCrop,
    ViewAugmenter,
)
from keras_ssl.testing import TestCase

LAYERS = {
    "crop": lambda seed=0: RandomResizedCrop(8, 8, scale=(0.2, 1.0), seed=seed),
    "flip": lambda seed=0: RandomHorizontalFlip(seed=seed),
    "jitter": lambda seed=0: RandomColorJitter(0.5, 0.5, probability=1.0, seed=seed),
    "view": lambda seed=0: ViewAugmenter((8, 8), seed=seed),
}


def float_images(n=8, size=8, channels=1, seed=0):
    return TestCase.make_images(n, size, channels, seed).astype("float32") / 255.0


def np_out(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("channels", [1, 3])
def test_shape_dtype_and_range(name, channels):
    layer = LAYERS[name]()
    images = float_images(channels=channels)
    out = np_out(layer(images, training=True))
    assert out.shape == (8, 8, 8, channels)
    assert out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert tuple(layer.compute_output_shape(images.shape)) == out.shape


@pytest.mark.parametrize("name", ["flip", "jitter", "view"])
def test_inference_is_identity(name):
    images = float_images()
    np.testing.assert_array_equal(
        np_out(LAYERS[name]()(images, training=False)), images
    )


def test_crop_inference_only_resizes():
    images = float_images(size=12)
    crop = RandomResizedCrop(8, 6, seed=0)
    out = np_out(crop(images, training=False))
    expected = tf.image.resize(images, (8, 6), method="bilinear").numpy()
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_views_differ_between_calls(name):
    layer = LAYERS[name]()
    images = float_images()
    first = np_out(layer(images, training=True))
    second = np_out(layer(images, training=True))
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_same_seed_same_views(name):
    images = float_images()
    a, b = LAYERS[name](seed=5), LAYERS[name](seed=5)
    for _ in range(2):
        np.testing.assert_array_equal(
            np_out(a(images, training=True)), np_out(b(images, training=True))
        )
    c = LAYERS[name](seed=6)
    a2 = LAYERS[name](seed=5)
    assert not np.array_equal(
        np_out(a2(images, training=True)), np_out(c(images, training=True))
    )


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_works_inside_tf_data_map(name):
    layer = LAYERS[name]()
    images = float_images(n=8)
    ds = (
        tf.data.Dataset.from_tensor_slices(images)
        .batch(4)
        .map(lambda x: layer(x, training=True))
    )
    epoch_1 = np.concatenate([b.numpy() for b in ds])
    epoch_2 = np.concatenate([b.numpy() for b in ds])
    assert epoch_1.shape == (8, 8, 8, 1)
    assert epoch_1.min() >= 0.0 and epoch_1.max() <= 1.0
    # Each pass draws new randomness.
    assert not np.array_equal(epoch_1, epoch_2)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_works_under_xla(name):
    layer = LAYERS[name]()
    fn = tf.function(lambda x: layer(x, training=True), jit_compile=True)
    out = fn(tf.constant(float_images(n=4)))
    assert tuple(out.shape) == (4, 8, 8, 1)


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("shape", [(8, 8, 1), (2, 8, 8), (1, 2, 8, 8, 1)])
def test_wrong_rank_raises(name, shape):
    with pytest.raises(ValueError, match="images"):
        LAYERS[name]()(np.zeros(shape, "float32"), training=True)


def test_full_scale_square_crop_is_identity():
    images = float_images()
    crop = RandomResizedCrop(8, 8, scale=(1.0, 1.0), ratio=(1.0, 1.0), seed=0)
    np.testing.assert_allclose(np_out(crop(images, training=True)), images, atol=1e-6)


def test_crop_to_another_size():
    out = RandomResizedCrop(6, 10, seed=0)(float_images(size=12), training=True)
    assert tuple(out.shape) == (8, 6, 10, 1)


def test_crop_boxes_differ_per_image():
    # One constant-gradient image repeated: per-image boxes give different crops.
    ramp = np.tile(np.linspace(0, 1, 8, dtype="float32"), (8, 1))[None, ..., None]
    images = np.repeat(ramp, 8, axis=0)
    out = np_out(RandomResizedCrop(8, 8, scale=(0.1, 0.5), seed=0)(images))
    assert len({o.tobytes() for o in out}) > 1


def test_flip_probability_extremes():
    images = float_images()
    always = np_out(RandomHorizontalFlip(1.0, seed=0)(images, training=True))
    np.testing.assert_array_equal(always, images[:, :, ::-1, :])
    never = np_out(RandomHorizontalFlip(0.0, seed=0)(images, training=True))
    np.testing.assert_array_equal(never, images)
    some = np_out(RandomHorizontalFlip(0.5, seed=0)(float_images(n=64)))
    flipped = [np.array_equal(o, i[:, ::-1]) for o, i in zip(some, float_images(n=64))]
    assert 0 < sum(flipped) < 64


def test_jitter_zero_strength_or_probability_is_identity():
    images = float_images()
    for layer in (
        RandomColorJitter(0.0, 0.0, probability=1.0, seed=0),
        RandomColorJitter(0.5, 0.5, probability=0.0, seed=0),
    ):
        np.testing.assert_allclose(
            np_out(layer(images, training=True)), images, atol=1e-6
        )


def test_jitter_brightness_is_bounded_shift():
    images = np.full((64, 4, 4, 1), 0.5, "float32")
    out = np_out(RandomColorJitter(0.2, 0.0, probability=1.0, seed=0)(images))
    shift = out[:, 0, 0, 0] - 0.5
    assert np.abs(shift).max() <= 0.2 + 1e-6
    assert shift.std() > 0.05
    # Each image is shifted as a whole.
    np.testing.assert_allclose(out, out[:, :1, :1, :] * np.ones_like(out), atol=1e-6)


@pytest.mark.parametrize(
    "factory, name",
    [
        (lambda: RandomResizedCrop(0, 8), "height"),
        (lambda: RandomResizedCrop(8, 8.0), "width"),
        (lambda: RandomResizedCrop(8, 8, scale=(0.5, 0.2)), "scale"),
        (lambda: RandomResizedCrop(8, 8, scale=(0.0, 1.0)), "scale"),
        (lambda: RandomResizedCrop(8, 8, scale=(0.5, 1.5)), "scale"),
        (lambda: RandomResizedCrop(8, 8, scale=0.5), "scale"),
        (lambda: RandomResizedCrop(8, 8, ratio=(2.0, 1.0)), "ratio"),
        (lambda: RandomResizedCrop(8, 8, ratio=(0.0, 1.0)), "ratio"),
        (lambda: RandomHorizontalFlip(1.5), "probability"),
        (lambda: RandomHorizontalFlip(-0.1), "probability"),
        (lambda: RandomColorJitter(brightness=1.5), "brightness"),
        (lambda: RandomColorJitter(contrast=-0.1), "contrast"),
        (lambda: RandomColorJitter(probability=2), "probability"),
        (lambda: ViewAugmenter((8,)), "image_size"),
        (lambda: ViewAugmenter((0, 8)), "image_size"),
        (lambda: ViewAugmenter(8), "image_size"),
        (lambda: ViewAugmenter((8, 8), crop_scale=(0.9, 0.1)), "scale"),
        (lambda: ViewAugmenter((8, 8), flip_probability=1.1), "probability"),
        (lambda: ViewAugmenter((8, 8), brightness=-1), "brightness"),
        (lambda: ViewAugmenter((8, 8), jitter_probability=3), "probability"),
    ],
)
def test_bad_arguments_raise(factory, name):
    with pytest.raises(ValueError, match=name):
        factory()


def test_view_augmenter_makes_two_different_views_of_every_image():
    images = float_images(n=16, size=28)
    augment = ViewAugmenter((28, 28), seed=0)
    v1 = np_out(augment(images, training=True))
    v2 = np_out(augment(images, training=True))
    differs = [not np.allclose(a, b) for a, b in zip(v1, v2)]
    assert all(differs)


def test_view_augmenter_inference_shape_matches_compute_output_shape():
    # compute_output_shape promises `image_size`; training=False must keep
    # that promise when the input has another size (as RandomResizedCrop
    # does: it resizes in inference).
    augment = ViewAugmenter((8, 8), seed=0)
    images = float_images(n=2, size=12)
    out = augment(images, training=False)
    assert tuple(out.shape) == tuple(augment.compute_output_shape(images.shape))


class TestAugmentationConfig(TestCase):
    @pytest.mark.parametrize(
        "layer",
        [
            RandomResizedCrop(6, 7, scale=(0.3, 0.9), ratio=(0.5, 2.0), seed=3),
            RandomHorizontalFlip(0.3, seed=3),
            RandomColorJitter(0.1, 0.2, probability=0.7, seed=3),
            ViewAugmenter(
                (6, 7),
                crop_scale=(0.3, 0.9),
                flip_probability=0.2,
                brightness=0.1,
                contrast=0.3,
                jitter_probability=0.6,
                seed=3,
            ),
        ],
        ids=lambda layer: type(layer).__name__,
    )
    def test_config_round_trip(self, layer):
        restored = self.assert_serialization_round_trip(layer)
        images = float_images(size=10)
        # Same config and seed: the same first views.
        self.assert_allclose(
            restored(images, training=True), layer(images, training=True)
        )
