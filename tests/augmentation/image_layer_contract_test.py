"""The contract every image augmentation layer keeps: shape, range, seeds,
`training`, tf.data, XLA and config round trips."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.augmentation import (
    AugmentationPipeline,
    MultiView,
    RandomGaussianBlur,
    RandomGrayscale,
    RandomHorizontalFlip,
    RandomHueSaturation,
    RandomRotation,
    RandomSolarize,
    byol_augmenters,
    simclr_augmenter,
)
from keras_ssl.testing import TestCase

# Probability 1 where it has one, so "views differ" is certain.
LAYERS = {
    "grayscale": lambda seed=0: RandomGrayscale(0.5, seed=seed),
    "blur": lambda seed=0: RandomGaussianBlur(3, (0.1, 2.0), 1.0, seed=seed),
    "solarize": lambda seed=0: RandomSolarize(0.5, 0.5, seed=seed),
    "rotation": lambda seed=0: RandomRotation(30, seed=seed),
    "hue_saturation": lambda seed=0: RandomHueSaturation(0.1, 0.4, 1.0, seed=seed),
    "pipeline": lambda seed=0: AugmentationPipeline(
        [RandomSolarize(0.5, 0.5, seed=seed), RandomRotation(20, seed=seed)]
    ),
    "simclr": lambda seed=0: simclr_augmenter((8, 8), 3, seed=seed),
    "byol_view_2": lambda seed=0: byol_augmenters((8, 8), 3, seed=seed)[1],
}


def float_images(n=8, size=8, channels=3, seed=0):
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


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_inference_is_identity(name):
    images = float_images()
    out = np_out(LAYERS[name]()(images, training=False))
    np.testing.assert_allclose(out, images, atol=1e-6)


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
    a2, c = LAYERS[name](seed=5), LAYERS[name](seed=6)
    assert not np.array_equal(
        np_out(a2(images, training=True)), np_out(c(images, training=True))
    )


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_works_inside_tf_data_map(name):
    layer = LAYERS[name]()
    ds = (
        tf.data.Dataset.from_tensor_slices(float_images())
        .batch(4)
        .map(lambda x: layer(x, training=True))
    )
    epoch_1 = np.concatenate([b.numpy() for b in ds])
    epoch_2 = np.concatenate([b.numpy() for b in ds])
    assert epoch_1.shape == (8, 8, 8, 3)
    assert epoch_1.min() >= 0.0 and epoch_1.max() <= 1.0
    assert not np.array_equal(epoch_1, epoch_2)


# The composites are covered by BYOL's second view, which holds every layer.
XLA_LAYERS = [
    "blur",
    "byol_view_2",
    "grayscale",
    "hue_saturation",
    "rotation",
    "solarize",
]


@pytest.mark.parametrize("name", XLA_LAYERS)
def test_works_under_xla(name):
    layer = LAYERS[name]()
    fn = tf.function(lambda x: layer(x, training=True), jit_compile=True)
    out = np_out(fn(tf.constant(float_images(n=4))))
    assert out.shape == (4, 8, 8, 3)
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_works_inside_an_xla_compiled_model():
    inputs = keras.Input((8, 8, 3))
    x = RandomGrayscale(0.5, seed=0)(inputs, training=True)
    x = RandomRotation(10, seed=0)(x, training=True)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    model.compile(jit_compile=True)
    out = model.predict(float_images(n=4), batch_size=4, verbose=0)
    assert out.shape == (4, 3)


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("shape", [(8, 8, 3), (1, 2, 8, 8, 3)])
def test_wrong_rank_raises(name, shape):
    with pytest.raises(ValueError, match="images"):
        LAYERS[name]()(np.zeros(shape, "float32"), training=True)


@pytest.mark.parametrize("name", ["grayscale", "hue_saturation"])
def test_colour_layers_reject_other_channel_counts(name):
    with pytest.raises(ValueError, match="images.shape"):
        LAYERS[name]()(np.zeros((2, 8, 8, 4), "float32"), training=True)


@pytest.mark.parametrize(
    "factory, name",
    [
        (lambda: RandomGrayscale(1.5), "probability"),
        (lambda: RandomGrayscale("0.2"), "probability"),
        (lambda: RandomGaussianBlur(kernel_size=4), "kernel_size"),
        (lambda: RandomGaussianBlur(kernel_size=1), "kernel_size"),
        (lambda: RandomGaussianBlur(kernel_size=3.0), "kernel_size"),
        (lambda: RandomGaussianBlur(sigma=(2.0, 0.1)), "sigma"),
        (lambda: RandomGaussianBlur(sigma=(0.0, 1.0)), "sigma"),
        (lambda: RandomGaussianBlur(sigma=1.0), "sigma"),
        (lambda: RandomGaussianBlur(probability=-0.1), "probability"),
        (lambda: RandomSolarize(threshold=1.5), "threshold"),
        (lambda: RandomSolarize(probability=2), "probability"),
        (lambda: RandomRotation(max_degrees=-1), "max_degrees"),
        (lambda: RandomRotation(max_degrees=200), "max_degrees"),
        (lambda: RandomRotation(probability=1.1), "probability"),
        (lambda: RandomHueSaturation(hue=0.6), "hue"),
        (lambda: RandomHueSaturation(saturation=1.5), "saturation"),
        (lambda: RandomHueSaturation(probability=-1), "probability"),
        (lambda: AugmentationPipeline([]), "layers"),
        (lambda: AugmentationPipeline(RandomSolarize()), "layers"),
        (lambda: AugmentationPipeline([RandomSolarize(), "flip"]), "layers"),
        (lambda: MultiView(RandomSolarize(), num_views=1), "num_views"),
        (lambda: MultiView(RandomSolarize(), num_views=2.0), "num_views"),
        (lambda: MultiView([RandomSolarize()]), "augmenters"),
        (lambda: MultiView([RandomSolarize(), RandomSolarize()], 3), "num_views"),
        (lambda: MultiView("flip"), "augmenters"),
        (lambda: simclr_augmenter((8,), 1), "image_size"),
        (lambda: simclr_augmenter((8, 8), 2), "channels"),
        (lambda: byol_augmenters((0, 8), 1), "image_size"),
        (lambda: byol_augmenters((8, 8), 4), "channels"),
    ],
)
def test_bad_arguments_raise(factory, name):
    with pytest.raises(ValueError, match=f"{name}="):
        factory()


class TestImageLayerConfig(TestCase):
    @pytest.mark.parametrize(
        "layer",
        [
            RandomGrayscale(0.3, seed=3),
            RandomGaussianBlur(5, (0.5, 1.5), 0.7, seed=3),
            RandomSolarize(0.4, 0.6, seed=3),
            RandomRotation(20, 0.7, seed=3),
            RandomHueSaturation(0.2, 0.3, 0.6, seed=3),
            AugmentationPipeline(
                [RandomSolarize(0.4, 0.6, seed=3), RandomHorizontalFlip(seed=4)]
            ),
            MultiView(RandomRotation(20, seed=3), num_views=3),
            MultiView(byol_augmenters((8, 8), 3, seed=3)),
        ],
        ids=lambda layer: type(layer).__name__,
    )
    def test_config_round_trip(self, layer):
        restored = self.assert_serialization_round_trip(layer)
        images = float_images()
        # Same config and seed: the same first views.
        self.assert_allclose(
            restored(images, training=True), layer(images, training=True)
        )
