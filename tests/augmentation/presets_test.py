import keras
import numpy as np
import pytest

from keras_ssl.augmentation import (
    AugmentationPipeline,
    MultiView,
    byol_augmenters,
    simclr_augmenter,
)
from keras_ssl.augmentation.presets import blur_kernel_size
from keras_ssl.testing import TestCase


def layer_types(pipeline):
    return [type(x).__name__ for x in pipeline.pipeline]


def find(pipeline, name):
    return [x for x in pipeline.pipeline if type(x).__name__ == name]


def test_simclr_on_small_greyscale_images_has_no_blur_or_colour():
    augment = simclr_augmenter((28, 28), 1, seed=0)
    assert isinstance(augment, AugmentationPipeline)
    assert layer_types(augment) == [
        "RandomResizedCrop",
        "RandomHorizontalFlip",
        "RandomColorJitter",
    ]
    assert augment.pipeline[0].scale == (0.25, 1.0)
    assert augment.pipeline[2].probability == 0.8


def test_simclr_on_rgb_adds_colour_grey_and_blur_over_32_pixels():
    augment = simclr_augmenter((33, 33), 3, seed=0)
    assert layer_types(augment) == [
        "RandomResizedCrop",
        "RandomHorizontalFlip",
        "RandomColorJitter",
        "RandomHueSaturation",
        "RandomGrayscale",
        "RandomGaussianBlur",
    ]
    assert find(augment, "RandomGrayscale")[0].probability == 0.2
    blur = find(augment, "RandomGaussianBlur")[0]
    assert blur.probability == 0.5 and blur.kernel_size == 3
    assert "RandomGaussianBlur" not in layer_types(simclr_augmenter((32, 64), 3))
    # CIFAR-sized RGB: colour, no blur (SimCLR's CIFAR-10 setting).
    assert layer_types(simclr_augmenter((32, 32), 3)) == layer_types(augment)[:-1]


@pytest.mark.parametrize("side, kernel", [(8, 3), (32, 3), (64, 7), (224, 23)])
def test_blur_kernel_is_about_a_tenth_of_the_side(side, kernel):
    assert blur_kernel_size((side, side + 10)) == kernel


def test_byol_views_differ_in_blur_and_solarize():
    view_1, view_2 = byol_augmenters((64, 64), 3, seed=0)
    assert find(view_1, "RandomGaussianBlur")[0].probability == 1.0
    assert find(view_2, "RandomGaussianBlur")[0].probability == 0.1
    assert find(view_1, "RandomSolarize") == []
    assert find(view_2, "RandomSolarize")[0].probability == 0.2
    assert find(view_1, "RandomHueSaturation")[0].saturation == 0.2
    assert view_1.name != view_2.name


def test_presets_make_views_of_the_requested_size():
    images = TestCase.make_images(4, 12, 3).astype("float32") / 255.0
    views = MultiView(byol_augmenters((8, 8), 3, seed=0))(images)
    simclr = simclr_augmenter((8, 8), 3, seed=0)(images)
    for out in [*views, simclr]:
        out = keras.ops.convert_to_numpy(out)
        assert out.shape == (4, 8, 8, 3)
        assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.allclose(*[keras.ops.convert_to_numpy(v) for v in views])
