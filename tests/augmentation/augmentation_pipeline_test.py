import keras
import numpy as np

from keras_ssl.augmentation import (
    AugmentationPipeline,
    RandomGrayscale,
    RandomResizedCrop,
    RandomSolarize,
)
from keras_ssl.testing import TestCase


def float_images(n=4, size=8, channels=3, seed=0):
    return TestCase.make_images(n, size, channels, seed).astype("float32") / 255.0


def np_out(x):
    return keras.ops.convert_to_numpy(x)


def solarize(x):
    return np.where(x >= 0.5, 1 - x, x)


def grey(x):
    luma = x @ np.array([0.2989, 0.5870, 0.1140], "float32")
    return np.repeat(luma[..., None], 3, axis=-1)


def test_applies_layers_in_order():
    images = float_images()
    pipeline = AugmentationPipeline(
        [RandomSolarize(0.5, 1.0, seed=0), RandomGrayscale(1.0, seed=0)]
    )
    out = np_out(pipeline(images, training=True))
    np.testing.assert_allclose(out, grey(solarize(images)), atol=1e-6)
    assert not np.allclose(out, solarize(grey(images)), atol=1e-3)


def test_inference_and_output_shape_follow_the_layers():
    images = float_images(size=10)
    pipeline = AugmentationPipeline(
        [RandomResizedCrop(6, 6, seed=0), RandomSolarize(0.5, 1.0, seed=0)]
    )
    assert tuple(pipeline.compute_output_shape(images.shape)) == (4, 6, 6, 3)
    out = np_out(pipeline(images, training=False))
    expected = np_out(keras.ops.image.resize(images, (6, 6)))
    np.testing.assert_allclose(out, expected, atol=1e-6)


class TestAugmentationPipelineSaving(TestCase):
    def test_keras_file_round_trip(self, tmp_path):
        pipeline = AugmentationPipeline(
            [RandomResizedCrop(6, 6, seed=1), RandomGrayscale(0.3, seed=2)]
        )
        inputs = keras.Input((8, 8, 3))
        model = keras.Model(inputs, pipeline(inputs))
        restored = self.assert_keras_round_trip(model, float_images(), tmp_path)
        layer = restored.layers[-1]
        assert isinstance(layer, AugmentationPipeline)
        assert [type(x).__name__ for x in layer.pipeline] == [
            "RandomResizedCrop",
            "RandomGrayscale",
        ]
