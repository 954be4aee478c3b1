import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.augmentation import (
    MultiView,
    RandomGrayscale,
    RandomRotation,
    RandomSolarize,
)
from keras_ssl.testing import TestCase


def float_images(n=4, size=8, channels=3, seed=0):
    return TestCase.make_images(n, size, channels, seed).astype("float32") / 255.0


def np_out(views):
    return [keras.ops.convert_to_numpy(v) for v in views]


def test_single_augmenter_gives_independent_views():
    images = float_images()
    views = np_out(MultiView(RandomRotation(30, seed=0), num_views=3)(images))
    assert len(views) == 3
    for i in range(3):
        assert views[i].shape == images.shape
        for j in range(i):
            assert not np.allclose(views[i], views[j])
    assert len(np_out(MultiView(RandomRotation(30, seed=0))(images))) == 2


def test_list_of_augmenters_gives_one_view_each():
    images = float_images()
    views = np_out(
        MultiView([RandomSolarize(0.5, 1.0, seed=0), RandomGrayscale(1.0, seed=0)])(
            images
        )
    )
    assert len(views) == 2
    np.testing.assert_allclose(
        views[0], np.where(images >= 0.5, 1 - images, images), atol=1e-7
    )
    np.testing.assert_allclose(views[1][..., 0], views[1][..., 2])


def test_inference_views_are_the_input():
    images = float_images()
    views = np_out(MultiView(RandomRotation(30, seed=0))(images, training=False))
    for view in views:
        np.testing.assert_array_equal(view, images)


def test_single_view_message():
    with pytest.raises(
        ValueError,
        match="a two-view method needs at least two views. Received: num_views=1",
    ):
        MultiView(RandomRotation(), num_views=1)


def test_compute_output_shape_is_one_shape_per_view():
    shapes = MultiView(RandomRotation(), num_views=3).compute_output_shape((4, 8, 8, 3))
    assert [tuple(s) for s in shapes] == [(4, 8, 8, 3)] * 3


def test_views_in_tf_data_and_under_xla():
    views = MultiView(RandomRotation(30, seed=0))
    ds = (
        tf.data.Dataset.from_tensor_slices(float_images())
        .batch(4)
        .map(lambda x: tuple(views(x, training=True)))
    )
    first, second = next(iter(ds))
    assert tuple(first.shape) == (4, 8, 8, 3)
    assert not np.allclose(first.numpy(), second.numpy())
    fn = tf.function(lambda x: views(x, training=True), jit_compile=True)
    first, second = fn(tf.constant(float_images()))
    assert not np.allclose(first.numpy(), second.numpy())
