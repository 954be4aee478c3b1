import keras
import numpy as np
import pytest

from keras_ssl.layers import ProjectionHead
from keras_ssl.testing import TestCase


class TestProjectionHead(TestCase):
    @pytest.mark.parametrize("hidden_dims", [(), (8,), (16, 8)])
    @pytest.mark.parametrize("batch_norm", [True, False])
    def test_output_shape(self, hidden_dims, batch_norm):
        head = ProjectionHead(4, hidden_dims=hidden_dims, batch_norm=batch_norm)
        x = np.random.default_rng(0).normal(size=(6, 12)).astype("float32")
        out = head(x, training=True)
        assert tuple(out.shape) == (6, 4)
        assert head.compute_output_shape((None, 12)) == (None, 4)
        dense = [w for w in head.weights if w.path.endswith("kernel")]
        assert len(dense) == len(hidden_dims) + 1

    def test_linear_head_is_one_dense_layer(self):
        head = ProjectionHead(4, hidden_dims=())
        x = np.random.default_rng(0).normal(size=(3, 5)).astype("float32")
        out = keras.ops.convert_to_numpy(head(x))
        kernel, bias = (keras.ops.convert_to_numpy(w) for w in head.out.weights)
        np.testing.assert_allclose(out, x @ kernel + bias, rtol=1e-5, atol=1e-6)

    def test_built_in_build_and_trainable(self):
        head = ProjectionHead(4, hidden_dims=(8,))
        head.build((None, 12))
        # Dense kernel + BN gamma/beta (no Dense bias with BN) + out kernel/bias.
        assert len(head.trainable_weights) == 5
        assert len(head.non_trainable_weights) == 2  # BN moving stats

    def test_batch_norm_is_synchronized(self):
        head = ProjectionHead(4, hidden_dims=(8,))
        bn = [layer for block in head.hidden for layer in block]
        bn = [
            layer for layer in bn if isinstance(layer, keras.layers.BatchNormalization)
        ]
        assert bn and all(layer.synchronized for layer in bn)

    @pytest.mark.parametrize("output_dim", [0, -1, 2.5, None])
    def test_bad_output_dim_raises(self, output_dim):
        with pytest.raises(ValueError, match="output_dim"):
            ProjectionHead(output_dim)

    def test_config_round_trip(self):
        head = ProjectionHead(4, hidden_dims=(8, 6), batch_norm=False, name="proj")
        restored = self.assert_serialization_round_trip(head)
        assert restored.hidden_dims == (8, 6)
        assert restored.name == "proj"

    def test_keras_round_trip_inside_a_model(self, tmp_path):
        inputs = keras.Input((12,))
        model = keras.Model(inputs, ProjectionHead(4, hidden_dims=(8,))(inputs))
        x = np.random.default_rng(0).normal(size=(4, 12)).astype("float32")
        self.assert_keras_round_trip(model, x, tmp_path)
