"""The named image encoders (`IMAGE_BACKBONES`), `describe_image_backbones`
and `load_image_encoder` on `.keras` files."""

import re

import keras
import numpy as np
import pytest

from keras_ssl.encoders import (
    IMAGE_BACKBONES,
    build_image_encoder,
    conv_encoder,
    describe_image_backbones,
    load_image_encoder,
)
from keras_ssl.encoders.image_backbone import encoder_parts
from keras_ssl.layers import ImageInputScaling
from keras_ssl.testing import TestCase

#: The representation size of each named encoder.
DIMS = {
    "conv": 128,
    "resnet50v2": 2048,
    "resnet50": 2048,
    "mobilenetv3small": 576,
    "efficientnetv2b0": 1280,
    "convnexttiny": 768,
}
GREY = (28, 28, 1)


def images(shape, n=2, seed=0):
    return np.random.default_rng(seed).random((n, *shape)).astype("float32")


@pytest.fixture(scope="module")
def encoders():
    """Every named encoder, built once for 28x28 greyscale images."""
    keras.utils.set_random_seed(0)
    return {name: build_image_encoder(name, GREY) for name in IMAGE_BACKBONES}


def test_registry_names():
    assert list(IMAGE_BACKBONES) == list(DIMS)


class TestNamedEncoders(TestCase):
    @pytest.mark.parametrize("name", list(DIMS))
    def test_greyscale_28_and_keras_round_trip(self, name, encoders, tmp_path):
        encoder = encoders[name]
        assert encoder.input_shape == (None, *GREY)
        assert encoder.output_shape == (None, DIMS[name])
        x = images(GREY)
        out = keras.ops.convert_to_numpy(encoder(x, training=False))
        assert out.shape == (2, DIMS[name]) and out.dtype == np.float32
        assert np.all(np.isfinite(out))
        spec = IMAGE_BACKBONES[name]
        backbone, _ = encoder_parts(encoder)
        if spec.is_backbone:
            # Greyscale repeated to RGB, resized up to the backbone's 32x32.
            scaling = encoder.layers[1]
            assert isinstance(scaling, ImageInputScaling)
            assert (scaling.mode, scaling.channels, scaling.min_side) == (
                spec.preprocessing,
                3,
                32,
            )
            assert backbone.input_shape == (None, 32, 32, 3)
        else:
            assert backbone is None
        path = tmp_path / f"{name}.keras"
        encoder.save(path)
        loaded = load_image_encoder(path, GREY)
        self.assert_allclose(loaded(x, training=False), out, atol=1e-5)

    @pytest.mark.parametrize("name", list(DIMS))
    def test_rgb_32(self, name):
        encoder = build_image_encoder(name, (32, 32, 3))
        out = encoder(images((32, 32, 3)), training=False)
        assert tuple(out.shape) == (2, DIMS[name])
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(out)))

    def test_conv_is_keras_ssl_conv_encoder(self, encoders):
        expected = conv_encoder(GREY, widths=(32, 64, 128))
        assert encoders["conv"].count_params() == expected.count_params()
        assert len(encoders["conv"].layers) == len(expected.layers)

    @pytest.mark.parametrize("name", ["conv", "mobilenetv3small"])
    def test_weights_file(self, name, encoders, tmp_path):
        encoder = encoders[name]
        backbone, _ = encoder_parts(encoder)
        path = str(tmp_path / "weights.weights.h5")
        (backbone or encoder).save_weights(path)
        rebuilt = build_image_encoder(name, GREY, weights=path)
        x = images(GREY)
        self.assert_allclose(
            rebuilt(x, training=False), encoder(x, training=False), atol=1e-6
        )

    def test_pooling_and_min_side(self):
        encoder = build_image_encoder(
            "mobilenetv3small", GREY, pooling="max", min_side=40
        )
        assert encoder.name == "mobilenetv3small_encoder"
        assert encoder.layers[1].min_side == 40
        assert encoder_parts(encoder)[0].input_shape == (None, 40, 40, 3)
        assert isinstance(encoder.layers[-1], keras.layers.GlobalMaxPooling2D)


def test_describe(encoders, monkeypatch):
    rows = describe_image_backbones(count_parameters=False)
    assert [row["name"] for row in rows] == list(DIMS)
    assert all(row["parameters"] is None for row in rows)
    assert rows[1]["family"] == "keras.applications"
    assert rows[0]["description"].startswith("keras_ssl.encoders.conv_encoder")
    for name in ("resnet50v2", "resnet50", "efficientnetv2b0", "convnexttiny"):
        monkeypatch.delitem(IMAGE_BACKBONES, name)
    rows = describe_image_backbones(GREY)
    assert {row["name"]: row["parameters"] for row in rows} == {
        name: encoders[name].count_params() for name in ("conv", "mobilenetv3small")
    }


class TestErrors:
    @pytest.mark.parametrize(
        "kwargs, error, match",
        [
            (dict(name="resnet5"), ValueError, "Did you mean 'resnet50'?"),
            (dict(name=None), ValueError, "Unknown encoder. Received: encoder=None"),
            (dict(input_shape=(28, 28, 2)), ValueError, "1 (greyscale) or 3 (RGB)"),
            (dict(weights="missing.h5"), FileNotFoundError, "weights='missing.h5'"),
            (dict(weights=3), ValueError, "Received: weights=3"),
            (dict(name="conv", weights="imagenet"), ValueError, "no ImageNet"),
            (dict(min_side=16), ValueError, "at least 32 pixels"),
            (dict(poling="avg"), ValueError, "Unknown keyword arguments"),
            (dict(name="conv", pooling="avg"), ValueError, "Received: ['pooling']"),
        ],
    )
    def test_build(self, kwargs, error, match):
        kwargs = {"name": "mobilenetv3small", "input_shape": GREY, **kwargs}
        with pytest.raises(error, match=re.escape(match)):
            build_image_encoder(**kwargs)

    def test_load_missing_path(self, tmp_path):
        path = str(tmp_path / "nothing.keras")
        with pytest.raises(FileNotFoundError, match=re.escape(f"path={path!r}")):
            load_image_encoder(path, GREY)

    def test_load_folder_and_weights_file(self, tmp_path):
        with pytest.raises(ValueError, match="is no keras-hub preset"):
            load_image_encoder(tmp_path, GREY)
        weights = tmp_path / "encoder.weights.h5"
        weights.write_bytes(b"")
        with pytest.raises(ValueError, match="weights=path"):
            load_image_encoder(weights, GREY)
        inputs = keras.Input(GREY)
        feature_maps = keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs))
        feature_maps.save(tmp_path / "maps.keras")
        with pytest.raises(ValueError, match="is no image encoder"):
            load_image_encoder(tmp_path / "maps.keras", GREY)

    def test_load_wrong_input_shape(self, encoders, tmp_path):
        path = tmp_path / "conv.keras"
        encoders["conv"].save(path)
        with pytest.raises(ValueError, match=re.escape("input_shape=(32, 32, 3)")):
            load_image_encoder(path, (32, 32, 3))

    def test_load_classifier_with_its_top(self, tmp_path):
        model = keras.applications.MobileNetV3Small(
            input_shape=(32, 32, 3), weights=None, classes=3
        )
        path = tmp_path / "classifier.keras"
        model.save(path)
        with pytest.raises(ValueError, match="include_top=False"):
            load_image_encoder(path, (32, 32, 3))
