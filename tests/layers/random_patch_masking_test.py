import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.layers import RandomPatchMasking
from keras_ssl.layers.random_patch_masking import gather_tokens
from keras_ssl.testing import TestCase


def _np(x):
    return keras.ops.convert_to_numpy(x)


class TestRandomPatchMasking(TestCase):
    @pytest.mark.parametrize(
        "num_patches, mask_ratio, visible",
        [(49, 0.75, 12), (16, 0.75, 4), (16, 0.5, 8)],
    )
    def test_fixed_number_of_visible_patches(self, num_patches, mask_ratio, visible):
        layer = RandomPatchMasking(num_patches, mask_ratio, seed=0)
        assert layer.num_visible == visible == round((1 - mask_ratio) * num_patches)
        tokens = np.random.default_rng(0).normal(size=(5, num_patches, 3))
        out = layer(tokens.astype("float32"))
        assert tuple(out["visible"].shape) == (5, visible, 3)
        mask = _np(out["mask"])
        np.testing.assert_array_equal(mask.sum(axis=1), num_patches - visible)
        indices = _np(out["visible_indices"])
        for b in range(5):
            assert len(set(indices[b])) == visible
            # Visible tokens are the tokens at the visible positions, which
            # are exactly the unmasked ones.
            np.testing.assert_allclose(_np(out["visible"])[b], tokens[b, indices[b]])
            np.testing.assert_array_equal(mask[b, indices[b]], 0.0)

    def test_restore_indices_undo_the_shuffle(self):
        layer = RandomPatchMasking(16, 0.75, seed=1)
        tokens = np.random.default_rng(1).normal(size=(4, 16, 2)).astype("float32")
        out = layer(tokens)
        shuffle = np.argsort(_np(out["restore_indices"]), axis=1)
        np.testing.assert_array_equal(shuffle[:, :4], _np(out["visible_indices"]))
        hidden = gather_tokens(tokens, shuffle[:, 4:])
        restored = gather_tokens(
            keras.ops.concatenate([out["visible"], hidden], axis=1),
            out["restore_indices"],
        )
        np.testing.assert_allclose(_np(restored), tokens)

    def test_fresh_masks_every_call_and_seeded(self):
        tokens = np.zeros((8, 16, 1), "float32")
        a = RandomPatchMasking(16, seed=3)
        b = RandomPatchMasking(16, seed=3)
        first, second = _np(a(tokens)["mask"]), _np(a(tokens)["mask"])
        assert not np.array_equal(first, second)
        np.testing.assert_array_equal(first, _np(b(tokens)["mask"]))

    def test_inside_tf_function_with_xla(self):
        layer = RandomPatchMasking(16, 0.75, seed=0)

        @tf.function(jit_compile=True)
        def run(x):
            return layer(x)["visible"]

        assert tuple(run(tf.zeros((2, 16, 4))).shape) == (2, 4, 4)

    def test_serialization(self):
        self.assert_serialization_round_trip(RandomPatchMasking(16, 0.6, seed=2))

    @pytest.mark.parametrize("mask_ratio", [0, 1, 1.5, -0.1, "0.75", True])
    def test_bad_mask_ratio(self, mask_ratio):
        with pytest.raises(ValueError, match="mask_ratio"):
            RandomPatchMasking(16, mask_ratio)

    @pytest.mark.parametrize("num_patches", [1, 0, 4.0, None])
    def test_bad_num_patches(self, num_patches):
        with pytest.raises(ValueError, match="num_patches"):
            RandomPatchMasking(num_patches)

    def test_wrong_length_is_refused(self):
        with pytest.raises(ValueError, match="tokens"):
            RandomPatchMasking(16)(np.zeros((2, 15, 3), "float32"))
