"""MultiCrop: shapes, seeds, crop areas, XLA; encoding views once per resolution."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.augmentation.multi_crop import (
    MultiCrop,
    any_size_encoder,
    default_local_size,
    encode_by_resolution,
    group_by_resolution,
)
from keras_ssl.encoders import conv_encoder
from keras_ssl.testing import TestCase


def float_images(n=4, size=16, channels=1, seed=0):
    return TestCase.make_images(n, size, channels, seed).astype("float32") / 255.0


def np_views(views):
    return [keras.ops.convert_to_numpy(v) for v in views]


def coordinate_images(n, size=16):
    """Channel 0 is the row coordinate, channel 1 the column one, in [0, 1]."""
    ramp = np.linspace(0.0, 1.0, size, dtype="float32")
    rows = np.broadcast_to(ramp[:, None], (size, size))
    cols = np.broadcast_to(ramp[None, :], (size, size))
    image = np.stack([rows, cols, np.zeros_like(rows)], axis=-1)
    return np.broadcast_to(image, (n, size, size, 3)).copy()


def box_areas(views):
    """The area fraction of each view's crop box, read from coordinate images.

    Bilinear interpolation reproduces a linear ramp exactly, so a view's
    first and last rows (columns) hold the box's top and bottom (left and
    right) edges in image coordinates.
    """
    areas = []
    for view in np_views(views):
        height = view[:, -1, 0, 0] - view[:, 0, 0, 0]
        width = view[:, 0, -1, 1] - view[:, 0, 0, 1]
        areas.append(height * width)
    return np.stack(areas)


def test_shapes_of_global_and_local_views():
    crops = MultiCrop((16, 16), num_local=3, seed=0)
    views = crops(float_images())
    shapes = [tuple(v.shape) for v in views]
    assert shapes == [(4, 16, 16, 1)] * 2 + [(4, 7, 7, 1)] * 3
    assert crops.num_views == 5
    assert [tuple(s) for s in crops.compute_output_shape((4, 16, 16, 1))] == shapes
    rgb = MultiCrop((16, 12), num_local=1, local_size=(6, 5), seed=0)(
        float_images(channels=3)[:, :, :12]
    )
    assert [tuple(v.shape) for v in rgb] == [(4, 16, 12, 3)] * 2 + [(4, 6, 5, 3)]
    assert len(MultiCrop((16, 16), num_local=0)(float_images())) == 2


def test_default_local_size():
    assert default_local_size((28, 28)) == (12, 12)
    assert default_local_size((224, 224)) == (96, 96)
    assert default_local_size((32, 8)) == (14, 4)
    assert default_local_size((3, 3)) == (3, 3)


def test_same_seed_same_views_other_seed_other_views():
    images = float_images()
    first = np_views(MultiCrop((16, 16), num_local=2, seed=1)(images))
    again = np_views(MultiCrop((16, 16), num_local=2, seed=1)(images))
    other = np_views(MultiCrop((16, 16), num_local=2, seed=2)(images))
    for a, b, c in zip(first, again, other):
        np.testing.assert_array_equal(a, b)
        assert not np.allclose(a, c)
    # Every view is drawn independently: no two are alike.
    assert not np.allclose(first[0], first[1])
    assert not np.allclose(first[2], first[3])


def test_views_are_augmented_by_colour_and_flip():
    # With crops of the whole image, only flips and jitter remain.
    crops = MultiCrop(
        (16, 16), num_local=0, global_scale=(1.0, 1.0), jitter_probability=1.0, seed=0
    )
    images = float_images(8)
    view = np_views(crops(images))[0]
    flipped = images[:, :, ::-1]
    close = [
        np.allclose(v, x, atol=1e-5) or np.allclose(v, f, atol=1e-5)
        for v, x, f in zip(view, images, flipped)
    ]
    assert not any(close)  # every view was jittered


@pytest.mark.parametrize(
    "kind, scale", [("global", (0.4, 1.0)), ("local", (0.05, 0.4))]
)
def test_crop_areas_respect_the_scale_ranges(kind, scale):
    crops = MultiCrop(
        (16, 16),
        num_local=2,
        local_size=(8, 8),
        global_scale=(0.4, 1.0),
        local_scale=(0.05, 0.4),
        flip_probability=0.0,
        jitter_probability=0.0,
        seed=3,
    )
    views = crops(coordinate_images(256))
    areas = box_areas(views[:2] if kind == "global" else views[2:]).ravel()
    low, high = scale
    assert areas.min() >= low - 1e-4 and areas.max() <= high + 1e-4
    # The whole range is used, not a corner of it.
    assert areas.min() < low + 0.1 * (high - low)
    assert areas.max() > high - 0.15 * (high - low)


def test_inference_views_are_resized_images():
    images = float_images()
    views = np_views(MultiCrop((16, 16), num_local=1, seed=0)(images, training=False))
    np.testing.assert_allclose(views[0], images, atol=1e-6)
    assert views[2].shape == (4, 7, 7, 1)


def test_under_xla_and_in_tf_data():
    crops = MultiCrop((16, 16), num_local=2, seed=0)
    fn = tf.function(lambda x: crops(x, training=True), jit_compile=True)
    views = np_views(fn(tf.constant(float_images())))
    assert [v.shape for v in views] == [(4, 16, 16, 1)] * 2 + [(4, 7, 7, 1)] * 2
    assert all(np.isfinite(v).all() for v in views)
    assert not np.allclose(views[0], views[1])
    ds = (
        tf.data.Dataset.from_tensor_slices(float_images())
        .batch(4)
        .map(lambda x: tuple(crops(x, training=True)))
    )
    assert [tuple(v.shape) for v in next(iter(ds))][2] == (4, 7, 7, 1)


def test_serialization_round_trip():
    crops = MultiCrop(
        (16, 16), num_local=3, local_size=(6, 6), local_scale=(0.1, 0.3), seed=4
    )
    restored = TestCase.assert_serialization_round_trip(crops)
    images = float_images()
    for a, b in zip(np_views(crops(images)), np_views(restored(images))):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"num_local": -1}, "num_local"),
        ({"num_local": 2.0}, "num_local"),
        ({"local_size": (0, 4)}, "local_size"),
        ({"global_scale": (0.5, 0.2)}, "global_scale"),
        ({"local_scale": (0.0, 1.5)}, "local_scale"),
    ],
)
def test_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        MultiCrop((16, 16), **kwargs)


def test_group_by_resolution_keeps_first_appearance_order():
    views = [np.zeros((2, 8, 8, 1)), np.zeros((2, 4, 4, 1)), np.zeros((2, 8, 8, 1))]
    assert group_by_resolution(views) == [((8, 8), [0, 2]), ((4, 4), [1])]
    with pytest.raises(ValueError, match=r"views\[0\]"):
        group_by_resolution([np.zeros((2, 8, 8))])


def test_encode_by_resolution_one_call_per_size_same_outputs():
    calls = []

    def encode(x):
        calls.append(tuple(x.shape))
        # Row-wise (no batch statistics), so per-view encoding agrees.
        return keras.ops.mean(x, axis=(1, 2)) * keras.ops.max(x, axis=(1, 2))

    views = MultiCrop((16, 16), num_local=3, seed=0)(float_images())
    outputs = encode_by_resolution(encode, views)
    assert calls == [(8, 16, 16, 1), (12, 7, 7, 1)]
    assert len(outputs) == len(views)
    for view, output in zip(views, outputs):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(output),
            keras.ops.convert_to_numpy(encode(view)),
            rtol=1e-6,
        )


def test_any_size_encoder_shares_the_weights():
    encoder = conv_encoder((16, 16, 1), widths=(4, 8))
    flexible = any_size_encoder(encoder)
    assert flexible is not encoder
    assert [id(w) for w in flexible.weights] == [id(w) for w in encoder.weights]
    images = float_images()
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(flexible(images)),
        keras.ops.convert_to_numpy(encoder(images)),
    )
    assert tuple(flexible(float_images(size=7)).shape) == (4, 8)
    with pytest.raises(ValueError, match="incompatible"):
        encoder(float_images(size=7))
    # Updates to the encoder reach the flexible one.
    encoder.weights[0].assign(np.zeros(encoder.weights[0].shape, "float32"))
    assert not np.any(keras.ops.convert_to_numpy(flexible.weights[0]))
    sequential = keras.Sequential(
        [keras.Input((16, 16, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten()]
    )
    assert any_size_encoder(sequential) is not sequential
    free = conv_encoder((None, None, 1), widths=(4,))
    assert any_size_encoder(free) is free
    with pytest.raises(ValueError, match="encoder"):
        any_size_encoder("conv")
