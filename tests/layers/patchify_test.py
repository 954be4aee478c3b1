import keras
import numpy as np
import pytest

from keras_ssl.layers import Patchify, Unpatchify
from keras_ssl.testing import TestCase


class TestPatchify(TestCase):
    @pytest.mark.parametrize(
        "shape, patch_size", [((28, 28, 1), 4), ((28, 28, 1), 7), ((8, 12, 3), 4)]
    )
    def test_round_trip_is_exact(self, shape, patch_size):
        images = np.random.default_rng(0).uniform(size=(3, *shape)).astype("float32")
        patches = Patchify(patch_size)(images)
        rows, cols = shape[0] // patch_size, shape[1] // patch_size
        assert tuple(patches.shape) == (3, rows * cols, patch_size**2 * shape[2])
        restored = Unpatchify(patch_size, shape)(patches)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored), images)

    def test_patch_order_is_row_major(self):
        images = np.arange(4 * 6 * 2, dtype="float32").reshape(1, 4, 6, 2)
        patches = keras.ops.convert_to_numpy(Patchify(2)(images))
        assert patches.shape == (1, 6, 8)
        # Patch 4 is grid row 1, column 1; flattened (row, column, channel).
        np.testing.assert_array_equal(patches[0, 4], images[0, 2:4, 2:4, :].reshape(-1))

    def test_functional_shapes(self):
        inputs = keras.Input((28, 28, 1))
        patches = Patchify(4)(inputs)
        assert tuple(patches.shape) == (None, 49, 16)
        images = Unpatchify(4, (28, 28, 1))(patches)
        assert tuple(images.shape) == (None, 28, 28, 1)

    def test_serialization(self):
        self.assert_serialization_round_trip(Patchify(4))
        self.assert_serialization_round_trip(Unpatchify(4, (28, 28, 1)))

    @pytest.mark.parametrize("patch_size", [0, -2, 2.5, True, "4"])
    def test_bad_patch_size(self, patch_size):
        with pytest.raises(ValueError, match="patch_size"):
            Patchify(patch_size)

    def test_patch_size_must_divide_images(self):
        with pytest.raises(ValueError, match="patch_size"):
            Patchify(5)(np.zeros((1, 28, 28, 1), "float32"))
        with pytest.raises(ValueError, match="patch_size"):
            Unpatchify(5, (28, 28, 1))

    def test_bad_unpatchify_inputs(self):
        with pytest.raises(ValueError, match="image_shape"):
            Unpatchify(4, (28, 28))
        with pytest.raises(ValueError, match="patches"):
            Unpatchify(4, (28, 28, 1))(np.zeros((1, 48, 16), "float32"))
