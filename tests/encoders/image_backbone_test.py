"""`ImageInputScaling` and `image_encoder_from_backbone`: scaling, pooling,
keras-hub backbones with their image converters (presets, `.keras`,
SavedModel), and training SimCLR / BYOL on backbone encoders."""

import os
import re
import subprocess
import sys
import textwrap

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.encoders import (
    build_image_encoder,
    image_encoder_from_backbone,
    load_image_encoder,
)
from keras_ssl.encoders.image_backbone import (
    encoder_parts,
    keras_application_scaling,
)
from keras_ssl.export import export_image_encoder
from keras_ssl.layers import ImageInputScaling
from keras_ssl.models import BYOL, SimCLR
from keras_ssl.testing import TestCase

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], "float32")
IMAGENET_STD = np.array([0.229, 0.224, 0.225], "float32")


def numpy_resize_axis(x, axis, size):
    """Bilinear resize of one axis with half-pixel centers, in NumPy."""
    n = x.shape[axis]
    if n == size:
        return x
    src = np.clip((np.arange(size) + 0.5) * n / size - 0.5, 0, n - 1)
    low = np.floor(src).astype(int)
    high = np.minimum(low + 1, n - 1)
    shape = [1] * x.ndim
    shape[axis] = size
    frac = (src - low).reshape(shape)
    a, b = np.take(x, low, axis), np.take(x, high, axis)
    return a + (b - a) * frac


def numpy_scaling(x, mode, channels, min_side):
    if x.shape[-1] != channels:
        x = np.repeat(x, channels, axis=-1)
    if min_side:
        x = numpy_resize_axis(x, 1, max(x.shape[1], min_side))
        x = numpy_resize_axis(x, 2, max(x.shape[2], min_side))
    if mode == "tf":
        return x * 2 - 1
    if mode == "torch":
        return (x - IMAGENET_MEAN) / IMAGENET_STD
    if mode == "caffe":
        return x[..., ::-1] * 255 - np.array([103.939, 116.779, 123.68])
    if mode == "0_255":
        return x * 255
    return x


def tiny_hub_resnet():
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 8],
        stackwise_num_blocks=[1, 1],
        stackwise_num_strides=[1, 2],
        block_type="basic_block",
        image_shape=(None, None, 3),
    )
    converter = keras_hub.layers.ResNetImageConverter(
        image_size=(32, 32),
        scale=list(1.0 / (255.0 * IMAGENET_STD)),
        offset=list(-IMAGENET_MEAN / IMAGENET_STD),
    )
    return backbone, converter


def tiny_hub_vit(use_class_token=True):
    backbone = keras_hub.models.ViTBackbone(
        image_shape=(32, 32, 3),
        patch_size=8,
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        mlp_dim=16,
        use_class_token=use_class_token,
    )
    converter = keras_hub.layers.ViTImageConverter(
        image_size=(32, 32), scale=1.0 / 127.5, offset=-1.0
    )
    return backbone, converter


def functional(input_shape, *layers, name="my_backbone"):
    inputs = keras.Input(input_shape)
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x, name=name)


class SubclassedBackbone(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(2, 3)

    def call(self, images):
        return self.conv(images)


def random_images(n, shape, seed=0):
    return np.random.default_rng(seed).random((n, *shape)).astype("float32")


@pytest.fixture(scope="module")
def hub_resnet():
    keras.utils.set_random_seed(0)
    return tiny_hub_resnet()


@pytest.fixture(scope="module")
def hub_vit():
    keras.utils.set_random_seed(1)
    return tiny_hub_vit()


class TestImageInputScaling(TestCase):
    @pytest.mark.parametrize("mode", ["tf", "torch", "caffe", "0_255", "unit"])
    @pytest.mark.parametrize("shape, min_side", [((28, 20, 1), 24), ((6, 5, 3), None)])
    def test_matches_numpy(self, mode, shape, min_side):
        x = random_images(2, shape)
        layer = ImageInputScaling(mode, channels=3, min_side=min_side)
        out = keras.ops.convert_to_numpy(layer(x))
        expected = numpy_scaling(x, mode, 3, min_side)
        if min_side:
            assert out.shape == (2, 28, 24, 3)
        atol = 1e-3 if mode in ("caffe", "0_255") else 1e-5  # values up to 255
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=atol)

    def test_greyscale_output_and_xla(self):
        x = random_images(2, (10, 12, 1))
        layer = ImageInputScaling("tf", channels=1, min_side=16)
        eager = layer(x)
        assert tuple(eager.shape) == (2, 16, 16, 1)
        compiled = tf.function(layer, jit_compile=True)(tf.constant(x))
        self.assert_allclose(compiled, eager, atol=1e-5)
        self.assert_allclose(eager, numpy_scaling(x, "tf", 1, 16), atol=1e-5)

    def test_config_round_trip(self):
        layer = ImageInputScaling("caffe", channels=3, min_side=32, name="scale")
        restored = self.assert_serialization_round_trip(layer)
        assert (restored.mode, restored.channels, restored.min_side) == (
            "caffe",
            3,
            32,
        )

    @pytest.mark.parametrize(
        "kwargs, match",
        [
            (dict(mode="imagenet"), "Received: mode='imagenet'"),
            (dict(mode="tf", channels=2), "Received: channels=2"),
            (dict(mode="tf", min_side=0), "Received: min_side=0"),
            (dict(mode="torch", channels=1), "needs channels=3"),
        ],
    )
    def test_bad_arguments(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            ImageInputScaling(**kwargs)

    def test_bad_channel_count(self):
        with pytest.raises(ValueError, match="1 or 3 channels"):
            ImageInputScaling("tf")(np.zeros((1, 8, 8, 2), "float32"))


class TestAutoPreprocessing:
    @pytest.mark.parametrize(
        "name, first_layer, expected",
        [
            ("resnet50v2", None, "tf"),
            ("resnet101", None, "caffe"),
            ("densenet121", None, "torch"),
            ("mobilenetv2_1.00_224", None, "tf"),
            ("MobileNetV3Small", keras.layers.Rescaling(1 / 127.5, -1), "0_255"),
            ("MobileNetV3Small", None, "tf"),
            (
                "convnext_tiny",
                keras.layers.Normalization(mean=0.5, variance=1),
                "0_255",
            ),
            ("convnext_tiny", None, "torch"),
            ("efficientnetv2-b0_1", keras.layers.Rescaling(1 / 255), "0_255"),
            ("my_resnet50v2", None, None),
        ],
    )
    def test_family_by_name(self, name, first_layer, expected):
        layers = [first_layer] if first_layer else []
        model = functional((8, 8, 3), *layers, keras.layers.Conv2D(2, 3), name=name)
        assert keras_application_scaling(model) == expected


class TestImageEncoderFromBackbone(TestCase):
    def test_feature_maps_are_pooled(self):
        backbone = functional((8, 8, 3), keras.layers.Conv2D(4, 3, padding="same"))
        x = random_images(3, (8, 8, 3))
        maps = keras.ops.convert_to_numpy(backbone(x * 2 - 1))
        for pooling, reduce in (("avg", np.mean), ("max", np.max)):
            encoder = image_encoder_from_backbone(
                backbone, (8, 8, 3), preprocessing="tf", pooling=pooling
            )
            assert encoder.output_shape == (None, 4)
            self.assert_allclose(encoder(x), reduce(maps, axis=(1, 2)), atol=1e-5)
        assert backbone in encoder.layers

    def test_token_sequences_without_class_token_are_averaged(self):
        backbone = functional(
            (4, 4, 3), keras.layers.Reshape((16, 3)), keras.layers.Dense(5)
        )
        x = random_images(2, (4, 4, 1))
        encoder = image_encoder_from_backbone(backbone, (4, 4, 1), "unit")
        tokens = keras.ops.convert_to_numpy(backbone(np.repeat(x, 3, -1)))
        self.assert_allclose(encoder(x), tokens.mean(axis=1), atol=1e-5)

    def test_vectors_are_kept(self):
        backbone = functional(
            (8, 8, 3), keras.layers.Conv2D(4, 3), keras.layers.GlobalMaxPooling2D()
        )
        x = random_images(2, (8, 8, 3))
        encoder = image_encoder_from_backbone(backbone, (8, 8, 3), "unit")
        self.assert_allclose(encoder(x), backbone(x), atol=1e-6)

    def test_vit_gives_its_class_token(self, hub_vit):
        backbone, converter = hub_vit
        encoder = image_encoder_from_backbone(
            backbone, (28, 28, 1), image_converter=converter
        )
        assert converter in encoder.layers and backbone in encoder.layers
        assert encoder_parts(encoder) == (backbone, converter)
        x = random_images(2, (28, 28, 1))
        rgb = np.repeat(x, 3, -1) * 255.0
        expected = backbone(converter(rgb))[:, 0, :]
        self.assert_allclose(encoder(x), expected, atol=1e-5)

    def test_fixed_size_backbone_gets_images_resized_up(self):
        backbone = functional((32, 32, 3), keras.layers.Conv2D(2, 3))
        encoder = image_encoder_from_backbone(backbone, (28, 28, 1), "tf")
        scaling = encoder.layers[1]
        assert isinstance(scaling, ImageInputScaling)
        assert (scaling.mode, scaling.channels, scaling.min_side) == ("tf", 3, 32)
        assert encoder.input_shape == (None, 28, 28, 1)

    @pytest.mark.parametrize(
        "case, match",
        [
            ("string", "must be a keras.Model"),
            ("layer", "must be a keras.Model"),
            ("subclassed", "functional keras.Model with one input"),
            ("two_outputs", "must have one output"),
            ("grey_backbone", "takes greyscale images"),
            ("four_channels", "1 or 3 channels"),
            ("wrong_size", "takes images of size 40x32"),
            ("unknown_mode", "Received: preprocessing='imagenet'"),
            ("auto_unknown", "Pass `image_converter="),
            ("mode_and_converter", "exclude each other"),
            ("bad_converter", "Received: image_converter of type str"),
            ("bad_pooling", "Received: pooling='sum'"),
            ("bad_shape", "Received: input_shape=(8, 8)"),
        ],
    )
    def test_bad_arguments(self, case, match, hub_vit):
        conv = keras.layers.Conv2D(2, 3)
        backbone = functional((8, 8, 3), conv)
        kwargs = dict(backbone=backbone, input_shape=(8, 8, 3), preprocessing="tf")
        if case == "string":
            kwargs["backbone"] = "resnet50"
        elif case == "layer":
            kwargs["backbone"] = keras.layers.Dense(3)
        elif case == "subclassed":
            kwargs["backbone"] = SubclassedBackbone()
        elif case == "two_outputs":
            inputs = keras.Input((8, 8, 3))
            kwargs["backbone"] = keras.Model(inputs, [conv(inputs), inputs])
        elif case == "grey_backbone":
            kwargs["backbone"] = functional((8, 8, 1), keras.layers.Conv2D(2, 3))
        elif case == "four_channels":
            kwargs["backbone"] = functional((8, 8, 4), keras.layers.Conv2D(2, 3))
        elif case == "wrong_size":
            kwargs["backbone"] = functional((40, 32, 3), keras.layers.Conv2D(2, 3))
            kwargs["input_shape"] = (28, 28, 1)
        elif case == "unknown_mode":
            kwargs["preprocessing"] = "imagenet"
        elif case == "auto_unknown":
            kwargs["preprocessing"] = "auto"
        elif case == "mode_and_converter":
            kwargs["image_converter"] = hub_vit[1]
        elif case == "bad_converter":
            kwargs.update(preprocessing="auto", image_converter="vit")
        elif case == "bad_pooling":
            kwargs["pooling"] = "sum"
        elif case == "bad_shape":
            kwargs["input_shape"] = (8, 8)
        with pytest.raises(ValueError, match=re.escape(match)):
            image_encoder_from_backbone(**kwargs)


class TestKerasHubBackbones(TestCase):
    @pytest.mark.parametrize("family", ["resnet", "vit"])
    def test_preset_and_keras_file_round_trips(
        self, family, hub_resnet, hub_vit, tmp_path
    ):
        backbone, converter = hub_resnet if family == "resnet" else hub_vit
        encoder = image_encoder_from_backbone(
            backbone, (32, 32, 3), image_converter=converter
        )
        x = random_images(4, (32, 32, 3))
        expected = encoder(x, training=False)
        preset = tmp_path / family
        backbone.save_to_preset(preset)
        converter.save_to_preset(preset)
        loaded = load_image_encoder(preset, (32, 32, 3))
        self.assert_allclose(loaded(x, training=False), expected, atol=1e-5)
        assert type(encoder_parts(loaded)[1]) is type(converter)
        path = tmp_path / f"{family}.keras"
        encoder.save(path)
        reloaded = load_image_encoder(path, (32, 32, 3))
        self.assert_allclose(reloaded(x, training=False), expected, atol=1e-5)

    def test_call_without_training_is_inference(self, hub_resnet):
        # The converter's inner Keras `Resizing` layer defaults to
        # `training=True`; the encoder must still default to inference.
        backbone, converter = hub_resnet
        encoder = image_encoder_from_backbone(
            backbone, (32, 32, 3), image_converter=converter
        )
        x = random_images(4, (32, 32, 3))
        moving = [keras.ops.convert_to_numpy(w) for w in backbone.non_trainable_weights]
        default, inference = encoder(x), encoder(x, training=False)
        self.assert_allclose(default, inference, atol=1e-6)
        assert not np.allclose(encoder(x, training=True), inference, atol=1e-3)
        after = [keras.ops.convert_to_numpy(w) for w in backbone.non_trainable_weights]
        # Only the explicit training call moved the batch-norm statistics.
        assert any(not np.array_equal(a, b) for a, b in zip(moving, after))

    def test_preset_without_converter_needs_preprocessing(self, hub_resnet, tmp_path):
        hub_resnet[0].save_to_preset(tmp_path / "bare")
        with pytest.raises(ValueError, match="without its image converter"):
            load_image_encoder(tmp_path / "bare", (32, 32, 3))

    def test_savedmodel_export_in_fresh_python(self, hub_resnet, tmp_path):
        backbone, converter = hub_resnet
        encoder = image_encoder_from_backbone(
            backbone, (28, 28, 1), image_converter=converter
        )
        export_dir = export_image_encoder(encoder, tmp_path / "export")
        images = np.random.default_rng(2).integers(0, 256, (3, 28, 28, 1), "uint8")
        np.save(tmp_path / "images.npy", images)
        script = f"""
            import sys

            sys.modules["keras_ssl"] = None
            sys.modules["keras_hub"] = None
            import numpy as np
            import tensorflow as tf

            served = tf.saved_model.load({export_dir!r})
            images = tf.constant(np.load("images.npy"))
            out = served.signatures["serving_default"](images=images)
            np.save("served.npy", out["embedding"].numpy())
        """
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        expected = encoder(images.astype("float32") / 255.0, training=False)
        self.assert_allclose(np.load(tmp_path / "served.npy"), expected, atol=1e-5)


def fit_two_steps(model, images):
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    weights = model.encoder.trainable_weights
    before = [keras.ops.convert_to_numpy(w) for w in weights]
    history = model.fit(images, batch_size=4, epochs=1, verbose=0)
    after = [keras.ops.convert_to_numpy(w) for w in weights]
    assert np.isfinite(history.history["loss"][0])
    assert model.optimizer.iterations.numpy() == 2
    changed = [not np.array_equal(a, b) for a, b in zip(before, after)]
    # The first and the last layers of the backbone both learned.
    assert changed[0] and changed[-1], changed
    return history


class TestTraining(TestCase):
    @pytest.mark.parametrize(
        "name",
        [
            "mobilenetv3small",
            # Every other Keras Applications family of the registry, too.
            pytest.param("resnet50v2", marks=pytest.mark.slow),
            pytest.param("resnet50", marks=pytest.mark.slow),
            pytest.param("efficientnetv2b0", marks=pytest.mark.slow),
            pytest.param("convnexttiny", marks=pytest.mark.slow),
        ],
    )
    def test_simclr_on_each_keras_application(self, name):
        keras.utils.set_random_seed(0)
        encoder = build_image_encoder(name, (32, 32, 3))
        model = SimCLR(encoder, projection_dim=4, projection_hidden_dims=(8,), seed=0)
        images = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), "uint8")
        fit_two_steps(model, images)

    def test_byol_on_keras_hub_resnet(self, tmp_path):
        keras.utils.set_random_seed(0)
        backbone, converter = tiny_hub_resnet()
        encoder = image_encoder_from_backbone(
            backbone, (32, 32, 1), image_converter=converter
        )
        model = BYOL(
            encoder,
            projection_dim=4,
            projection_hidden_dims=(8,),
            predictor_hidden_dim=8,
            seed=0,
        )
        x = random_images(2, (32, 32, 1))
        # The target network is a copy of the whole encoder, converter included.
        self.assert_allclose(model.target_encoder(x), encoder(x), atol=1e-6)
        images = np.random.default_rng(1).integers(0, 256, (8, 32, 32, 1), "uint8")
        fit_two_steps(model, images)
        target = keras.ops.convert_to_numpy(model.target_encoder.weights[0])
        online = keras.ops.convert_to_numpy(encoder.weights[0])
        assert not np.allclose(target, online)
        # A `.keras` file of the BYOL model gives back its (trained) encoder.
        path = tmp_path / "byol.keras"
        model.save(path)
        loaded = load_image_encoder(path, (32, 32, 1))
        self.assert_allclose(
            loaded(x, training=False), encoder(x, training=False), atol=1e-5
        )
