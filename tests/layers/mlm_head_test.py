import keras
import numpy as np
import pytest

from keras_ssl.layers import MLMHead
from keras_ssl.testing import TestCase

VOCAB, HIDDEN = 20, 8


def inputs(batch=2, length=6, predictions=3, seed=0):
    rng = np.random.default_rng(seed)
    sequence = rng.normal(size=(batch, length, HIDDEN)).astype("float32")
    positions = rng.integers(0, length, size=(batch, predictions)).astype("int32")
    return sequence, positions


def reference_logits(head, sequence, positions, matrix):
    """Gather → Dense+GELU → LayerNorm → scores, in NumPy where it matters."""
    gathered = np.take_along_axis(sequence, positions[..., None], axis=1)
    hidden = keras.ops.convert_to_numpy(head.norm(head.transform(gathered)))
    bias = keras.ops.convert_to_numpy(head.output_bias)
    return hidden @ np.asarray(matrix).T + bias


class TestMLMHead(TestCase):
    def test_explicitly_built_untied(self):
        head = MLMHead(VOCAB, HIDDEN)
        head.build()
        sequence, positions = inputs()
        logits = head(sequence, positions)
        assert tuple(logits.shape) == (2, 3, VOCAB)
        matrix = keras.ops.convert_to_numpy(head.output_matrix)
        assert matrix.shape == (VOCAB, HIDDEN)
        self.assert_allclose(
            logits, reference_logits(head, sequence, positions, matrix), atol=1e-5
        )

    def test_explicitly_built_tied_uses_the_given_matrix(self):
        head = MLMHead(VOCAB, HIDDEN, tied=True)
        head.build()
        assert head.output_matrix is None
        assert len(head.trainable_weights) == 5  # Dense k/b, LN g/b, bias
        sequence, positions = inputs()
        matrix = np.random.default_rng(1).normal(size=(VOCAB, HIDDEN))
        matrix = matrix.astype("float32")
        logits = head(sequence, positions, embedding_matrix=matrix)
        self.assert_allclose(
            logits, reference_logits(head, sequence, positions, matrix), atol=1e-5
        )

    def test_gathers_the_masked_positions(self):
        head = MLMHead(VOCAB, HIDDEN)
        head.build()
        sequence, _ = inputs()
        positions = np.array([[0, 5, 5], [2, 2, 1]], "int32")
        logits = keras.ops.convert_to_numpy(head(sequence, positions))
        np.testing.assert_allclose(logits[0, 1], logits[0, 2], atol=1e-6)
        np.testing.assert_allclose(logits[1, 0], logits[1, 1], atol=1e-6)
        single = keras.ops.convert_to_numpy(
            head(sequence[:1, 5:6], positions[:1, :1] * 0)
        )
        np.testing.assert_allclose(single[0, 0], logits[0, 1], atol=1e-5)

    def test_first_call_builds_the_layer(self):
        # The docstring example: no explicit build().
        head = MLMHead(VOCAB, HIDDEN)
        sequence, positions = inputs()
        assert tuple(head(sequence, positions).shape) == (2, 3, VOCAB)

    def test_in_a_functional_model_with_keras_round_trip(self, tmp_path):
        sequence = keras.Input((6, HIDDEN))
        positions = keras.Input((3,), dtype="int32")
        model = keras.Model(
            [sequence, positions], MLMHead(VOCAB, HIDDEN)(sequence, positions)
        )
        self.assert_keras_round_trip(model, list(inputs()), tmp_path)

    def test_config_round_trip(self):
        head = MLMHead(VOCAB, HIDDEN, name="head")
        restored = self.assert_serialization_round_trip(head)
        assert (restored.vocabulary_size, restored.hidden_dim) == (VOCAB, HIDDEN)
        assert restored.tied is False

    def test_tied_head_requires_the_matrix(self):
        head = MLMHead(VOCAB, HIDDEN, tied=True)
        sequence, positions = inputs()
        with pytest.raises(ValueError, match="embedding_matrix"):
            head(sequence, positions)

    @pytest.mark.parametrize("tied", [True, False])
    def test_weights_are_trainable(self, tied):
        head = MLMHead(VOCAB, HIDDEN, tied=tied)
        head.build()
        expected = 5 if tied else 6
        assert len(head.trainable_weights) == expected
