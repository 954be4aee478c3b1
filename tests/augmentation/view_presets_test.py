"""View settings per image size and channel count (`view_preset`), their
table, and the default `ViewAugmenter` built from them."""

import keras
import numpy as np
import pytest

from keras_ssl.augmentation import (
    RandomColorJitter,
    RandomHorizontalFlip,
    RandomResizedCrop,
    ViewAugmenter,
    byol_augmenters,
    simclr_augmenter,
)
from keras_ssl.augmentation.presets import (
    describe_view_presets,
    size_band,
    view_preset,
)
from keras_ssl.testing import TestCase


def step_names(augmenter):
    return [type(layer).__name__ for layer in augmenter.steps]


def images(n=4, size=28, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, size, size, channels)).astype("float32")


@pytest.mark.parametrize(
    "size, channels, band, crop, hue, grey, blur",
    [
        ((28, 28), 1, "small", (0.25, 1.0), 0.0, 0.0, 0.0),  # Fashion-MNIST
        ((32, 32), 3, "small", (0.25, 1.0), 0.1, 0.2, 0.0),  # CIFAR: no blur
        ((12, 12), 3, "small", (0.25, 1.0), 0.1, 0.2, 0.0),
        ((33, 64), 1, "medium", (0.14, 1.0), 0.0, 0.0, 0.5),
        ((96, 96), 3, "medium", (0.14, 1.0), 0.1, 0.2, 0.5),
        ((97, 300), 1, "large", (0.08, 1.0), 0.0, 0.0, 0.5),
        ((224, 224), 3, "large", (0.08, 1.0), 0.1, 0.2, 0.5),
    ],
)
def test_preset_per_size_and_channels(size, channels, band, crop, hue, grey, blur):
    preset = view_preset(size, channels)
    assert size_band(size) == preset["band"] == band
    assert preset["crop_scale"] == crop
    assert preset["hue"] == hue and preset["grayscale_probability"] == grey
    assert preset["saturation"] == (0.4 if channels == 3 else 0.0)
    assert preset["blur_probability"] == blur
    # Every size and channel count: flip and brightness/contrast jitter.
    assert preset["flip_probability"] == 0.5
    assert (preset["brightness"], preset["contrast"]) == (0.4, 0.4)
    assert preset["jitter_probability"] == 0.8


def test_preset_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"`channels` must be 1.*channels=4"):
        view_preset((28, 28), 4)
    with pytest.raises(ValueError, match=r"`image_size`"):
        view_preset((28,), 1)


def test_table_has_one_row_per_band_and_channel_count():
    lines = describe_view_presets().splitlines()
    assert lines[0].startswith("| shorter side |") and set(lines[1]) <= set("|-")
    rows = [line.strip("| ").split(" | ") for line in lines[2:]]
    assert [(row[0], row[2]) for row in rows] == [
        ("<= 32 px", "greyscale"),
        ("<= 32 px", "RGB"),
        ("33-96 px", "greyscale"),
        ("33-96 px", "RGB"),
        ("> 96 px", "greyscale"),
        ("> 96 px", "RGB"),
    ]
    assert [row[3] for row in rows] == ["0.25-1"] * 2 + ["0.14-1"] * 2 + ["0.08-1"] * 2
    # Hue and greyscale only for RGB, blur only over 32 pixels.
    assert [row[6] != "-" for row in rows] == [False, True] * 3
    assert [row[7] != "-" for row in rows] == [False, True] * 3
    assert [row[8] != "-" for row in rows] == [False] * 2 + [True] * 4


@pytest.mark.parametrize(
    "size, channels, expected",
    [
        ((28, 28), None, []),
        ((28, 28), 1, []),
        ((32, 32), 3, ["RandomHueSaturation", "RandomGrayscale"]),
        ((64, 64), None, ["RandomGaussianBlur"]),
        ((64, 64), 3, ["RandomHueSaturation", "RandomGrayscale", "RandomGaussianBlur"]),
    ],
)
def test_view_augmenter_steps_follow_the_preset(size, channels, expected):
    augment = ViewAugmenter(size, channels=channels, seed=0)
    base = ["RandomResizedCrop", "RandomHorizontalFlip", "RandomColorJitter"]
    assert step_names(augment) == base + expected
    assert augment.crop.scale == view_preset(size, channels or 1)["crop_scale"]
    out = augment(images(2, size[0], channels or 1), training=True)
    assert tuple(out.shape) == (2, *size, channels or 1)


def test_fashion_mnist_views_are_unchanged():
    # The views of 28x28 greyscale images: the crop, flip and jitter (same
    # seeds, same settings) the default augmenter has always made.
    x = images(8, 28, 1)
    augment = ViewAugmenter((28, 28), seed=3)
    crop = RandomResizedCrop(28, 28, scale=(0.25, 1.0), seed=3 * 7919 + 1)
    flip = RandomHorizontalFlip(0.5, seed=3 * 7919 + 2)
    jitter = RandomColorJitter(0.4, 0.4, 0.8, seed=3 * 7919 + 3)
    for _ in range(2):
        expected = jitter(flip(crop(x, training=True), training=True), training=True)
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(augment(x, training=True)),
            keras.ops.convert_to_numpy(expected),
        )
    assert len(augment.variables) == 3  # three seed generators, as before


def test_rgb_config_round_trips_and_legacy_configs_keep_their_steps():
    augment = ViewAugmenter((40, 40), channels=3, seed=1)
    config = augment.get_config()
    assert config["blur_probability"] == 0.5 and config["hue"] == 0.1
    restored = ViewAugmenter.from_config(config)
    assert step_names(restored) == step_names(augment)
    x = images(2, 40, 3)
    TestCase().assert_allclose(restored(x, training=True), augment(x, training=True))
    # A config written before the presets (no blur/hue keys): crop, flip and
    # jitter only, whatever the size, so its saved generator states fit.
    legacy = {
        key: config[key]
        for key in ("image_size", "crop_scale", "flip_probability", "brightness")
        + ("contrast", "jitter_probability", "seed", "name", "dtype", "trainable")
    }
    old = ViewAugmenter.from_config(legacy)
    assert step_names(old) == step_names(ViewAugmenter((28, 28)))


def test_view_augmenter_refuses_rgb_settings_without_rgb_and_wrong_channels():
    with pytest.raises(ValueError, match=r"`hue` needs RGB.*channels=1"):
        ViewAugmenter((28, 28), channels=1, hue=0.1)
    with pytest.raises(ValueError, match=r"`grayscale_probability` needs RGB"):
        ViewAugmenter((28, 28), grayscale_probability=0.2)
    with pytest.raises(ValueError, match=r"`channels` must be 1.*channels=2"):
        ViewAugmenter((28, 28), channels=2)
    with pytest.raises(ValueError, match=r"`blur_probability`"):
        ViewAugmenter((28, 28), blur_probability=1.5)
    with pytest.raises(ValueError, match=r"made for images with 3 channel"):
        ViewAugmenter((8, 8), channels=3)(images(2, 8, 1))
    # Explicit settings override the preset.
    off = ViewAugmenter((64, 64), channels=3, blur_probability=0.0, hue=0.0)
    assert "RandomGaussianBlur" not in step_names(off)
    assert off.hue_saturation.saturation == 0.4


def test_simclr_and_byol_presets_follow_the_bands_and_take_a_crop_scale():
    assert simclr_augmenter((96, 96), 3).pipeline[0].scale == (0.14, 1.0)
    assert simclr_augmenter((224, 224), 1).pipeline[0].scale == (0.08, 1.0)
    local = simclr_augmenter((12, 12), 3, seed=0, crop_scale=(0.05, 0.4))
    assert local.pipeline[0].scale == (0.05, 0.4)
    # BYOL on small images: no blur in either view, solarize in view 2.
    view_1, view_2 = byol_augmenters((28, 28), 1, seed=0)
    names = [[type(layer).__name__ for layer in v.pipeline] for v in (view_1, view_2)]
    assert "RandomGaussianBlur" not in names[0] + names[1]
    assert names[1][-1] == "RandomSolarize"
    assert byol_augmenters((64, 64), 1, crop_scale=(0.3, 1.0))[0].pipeline[0].scale == (
        0.3,
        1.0,
    )
    with pytest.raises(ValueError, match=r"`crop_scale`"):
        simclr_augmenter((28, 28), crop_scale=(0.9, 0.1))
