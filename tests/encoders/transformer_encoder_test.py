import keras
import numpy as np
import pytest

from keras_ssl.encoders import transformer_encoder
from keras_ssl.testing import TestCase

TINY = dict(hidden_dim=8, num_layers=1, num_heads=2, intermediate_dim=16)


def token_ids(batch=3, length=12, vocab=30, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab, size=(batch, length)).astype("int32")
    ids[1, 6:] = 0
    ids[2, 2:] = 0
    return ids


class TestTransformerEncoder(TestCase):
    @pytest.mark.parametrize("normalize_first", [True, False])
    def test_output_shapes(self, normalize_first):
        encoder = transformer_encoder(
            30,
            12,
            normalize_first=normalize_first,
            num_layers=2,
            **{k: v for k, v in TINY.items() if k != "num_layers"},
        )
        assert isinstance(encoder, keras.Model)
        out = encoder(token_ids())
        assert set(out) == {"sequence_output", "pooled_output"}
        assert tuple(out["sequence_output"].shape) == (3, 12, 8)
        assert tuple(out["pooled_output"].shape) == (3, 8)

    def test_pooled_output_ignores_padding(self):
        encoder = transformer_encoder(30, 12, dropout=0.0, **TINY)
        ids = token_ids()
        out = encoder(ids, training=False)
        seq = keras.ops.convert_to_numpy(out["sequence_output"])
        mask = ids != 0
        expected = np.stack([seq[i][mask[i]].mean(axis=0) for i in range(len(ids))])
        self.assert_allclose(out["pooled_output"], expected, atol=1e-5)

    def test_padding_embedding_does_not_matter(self):
        # Scramble the [PAD] embedding row: the non-padding outputs and the
        # pooled output must not move, since attention and pooling skip it.
        encoder = transformer_encoder(30, 12, dropout=0.0, **TINY)
        ids = token_ids()
        before = encoder(ids, training=False)
        table = encoder.get_layer("embeddings").token_embedding.embeddings
        values = keras.ops.convert_to_numpy(table).copy()
        values[0] = np.random.default_rng(1).normal(size=values.shape[1]) * 10
        table.assign(values)
        after = encoder(ids, training=False)
        self.assert_allclose(after["pooled_output"], before["pooled_output"], atol=1e-5)
        mask = ids != 0
        seq_before = keras.ops.convert_to_numpy(before["sequence_output"])
        seq_after = keras.ops.convert_to_numpy(after["sequence_output"])
        np.testing.assert_allclose(seq_after[mask], seq_before[mask], atol=1e-5)

    @pytest.mark.parametrize(
        "kwargs, name",
        [
            (dict(vocabulary_size=0), "vocabulary_size"),
            (dict(sequence_length=0), "sequence_length"),
            (dict(sequence_length=8.0), "sequence_length"),
            (dict(hidden_dim=9), "hidden_dim"),
            (dict(num_layers=0), "num_layers"),
            (dict(num_heads=0), "num_heads"),
        ],
    )
    def test_bad_arguments_raise(self, kwargs, name):
        args = {"vocabulary_size": 30, "sequence_length": 12, **TINY, **kwargs}
        with pytest.raises(ValueError, match=name):
            transformer_encoder(**args)

    def test_keras_round_trip(self, tmp_path):
        encoder = transformer_encoder(30, 12, **TINY)
        self.assert_keras_round_trip(encoder, token_ids(), tmp_path)
