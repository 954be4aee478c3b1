import keras
import numpy as np

from keras_ssl.layers import MaskedMeanPooling
from keras_ssl.testing import TestCase


class TestMaskedMeanPooling(TestCase):
    def test_ignores_padding(self):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(3, 5, 4)).astype("float32")
        mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=bool)
        out = keras.ops.convert_to_numpy(MaskedMeanPooling()(x, padding_mask=mask))
        expected = np.stack([x[i][mask[i]].mean(axis=0) for i in range(3)])
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
        # Changing the padded positions changes nothing.
        garbage = x.copy()
        garbage[~mask] = 1e3
        out2 = MaskedMeanPooling()(garbage, padding_mask=mask)
        self.assert_allclose(out2, out)

    def test_all_padding_gives_zeros(self):
        x = np.ones((2, 3, 4), "float32")
        mask = np.zeros((2, 3), bool)
        out = keras.ops.convert_to_numpy(MaskedMeanPooling()(x, padding_mask=mask))
        np.testing.assert_array_equal(out, np.zeros((2, 4)))

    def test_output_shape(self):
        layer = MaskedMeanPooling()
        assert layer.compute_output_shape((None, 7, 4), (None, 7)) == (None, 4)
        out = layer(np.ones((2, 7, 4), "float32"), padding_mask=np.ones((2, 7), bool))
        assert tuple(out.shape) == (2, 4)

    def test_in_functional_model(self):
        x = keras.Input((5, 4))
        mask = keras.Input((5,), dtype="bool")
        model = keras.Model([x, mask], MaskedMeanPooling()(x, padding_mask=mask))
        assert model.output_shape == (None, 4)

    def test_config_round_trip(self):
        self.assert_serialization_round_trip(MaskedMeanPooling(name="pool"))
