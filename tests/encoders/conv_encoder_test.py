import keras
import numpy as np
import pytest

from keras_ssl.encoders import conv_encoder
from keras_ssl.testing import TestCase


class TestConvEncoder(TestCase):
    @pytest.mark.parametrize(
        "input_shape, widths, blocks, embedding_dim, expected_dim",
        [
            ((8, 8, 1), (4, 8), 1, None, 8),
            ((8, 8, 3), (4,), 0, None, 4),
            ((28, 28, 1), (4, 8, 16), 2, 6, 6),
        ],
    )
    def test_output_shape(
        self, input_shape, widths, blocks, embedding_dim, expected_dim
    ):
        encoder = conv_encoder(
            input_shape,
            widths=widths,
            blocks_per_stage=blocks,
            embedding_dim=embedding_dim,
        )
        assert isinstance(encoder, keras.Model)
        assert encoder.input_shape == (None, *input_shape)
        assert encoder.output_shape == (None, expected_dim)
        x = np.random.default_rng(0).random((2, *input_shape)).astype("float32")
        assert tuple(encoder(x).shape) == (2, expected_dim)

    def test_batch_norm_synchronized_by_default(self):
        layers = conv_encoder((8, 8, 1), widths=(4,))._flatten_layers()
        bn = [x for x in layers if isinstance(x, keras.layers.BatchNormalization)]
        assert bn and all(x.synchronized for x in bn)
        layers = conv_encoder(
            (8, 8, 1), widths=(4,), synchronized_batch_norm=False
        )._flatten_layers()
        bn = [x for x in layers if isinstance(x, keras.layers.BatchNormalization)]
        assert bn and not any(x.synchronized for x in bn)

    @pytest.mark.parametrize(
        "kwargs, name",
        [
            (dict(input_shape=(8, 8)), "input_shape"),
            (dict(input_shape=(1, 8, 8, 1)), "input_shape"),
            (dict(widths=()), "widths"),
            (dict(widths=(4, 0)), "widths"),
            (dict(widths=(4.0,)), "widths"),
        ],
    )
    def test_bad_arguments_raise(self, kwargs, name):
        kwargs = {"input_shape": (8, 8, 1), "widths": (4,), **kwargs}
        with pytest.raises(ValueError, match=name):
            conv_encoder(**kwargs)

    def test_keras_round_trip(self, tmp_path):
        encoder = conv_encoder((8, 8, 1), widths=(4, 8), embedding_dim=5)
        images = self.make_images(3).astype("float32") / 255.0
        self.assert_keras_round_trip(encoder, images, tmp_path)
