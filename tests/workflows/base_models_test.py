"""`build_base_model` / `keras-ssl build-base`: base text and image models
saved as keras-hub presets in the cache, reused once built (tiny settings),
and continued from exactly their weights."""

import contextlib
import importlib.util
import io
import json
import os

import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl import recipes
from keras_ssl.app import base_models
from keras_ssl.app.cli import main
from keras_ssl.datasets import LabeledData
from keras_ssl.encoders import load_image_encoder
from keras_ssl.recipes import PretextContext

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")

TEXTS = np.array(
    ["the cat sat on the mat", "a dog ran in the park", "rain fell on the town"] * 8,
    dtype=object,
)


def test_build_base_writes_a_cached_keras_hub_preset(tmp_path, monkeypatch, capsys):
    tiny = dict(base_models.BASE_MODELS["text"])
    tiny.update(
        model_kwargs={"vocabulary_size": 50, "sequence_length": 12},
        batch_size=8,
        epochs=1,
        time_budget=60,
    )
    monkeypatch.setitem(base_models.BASE_MODELS, "text", tiny)
    monkeypatch.setattr(base_models, "fetch_austen", lambda cache_dir=None: None)
    seen = {}

    def corpus(austen_root=None, seed=0):
        seen["austen_root"] = austen_root
        return LabeledData(TEXTS, np.zeros(len(TEXTS), "int32"), ["t"], name="t")

    monkeypatch.setattr(base_models, "load_general_text", corpus)
    args = ["build-base", "--cache-dir", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Building the text base model" in out and "time budget 1 min" in out
    preset = base_models.base_model_path("text", str(tmp_path))
    backbone = keras_hub.models.Backbone.from_preset(preset)
    assert isinstance(backbone, keras_hub.models.BertBackbone)
    tokenizer = keras_hub.models.Tokenizer.from_preset(preset)
    assert tokenizer.token_to_id("[MASK]") == 4
    # Cached: a second call trains nothing.
    again = base_models.build_base_model("text", cache_dir=str(tmp_path))
    assert again == {"preset": preset, "built": False}
    assert seen == {"austen_root": None}


# --- the image base model ---------------------------------------------------


def _write_images(root):
    """Two tiny photographs (PNG, JPEG) and two clip-art drawings (RGBA)."""
    rng = np.random.default_rng(0)
    scenes, objects = root / "scenes", root / "objects"
    scenes.mkdir()
    objects.mkdir()
    photo = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    (scenes / "a.png").write_bytes(tf.io.encode_png(photo).numpy())
    (scenes / "b.jpg").write_bytes(tf.io.encode_jpeg(photo[:, ::-1]).numpy())
    for i, side in enumerate((20, 30)):
        drawing = np.zeros((side, side, 4), np.uint8)
        drawing[4:-4, 6:-6] = (200, 50 * i, 30, 255)
        (objects / f"{i}.png").write_bytes(tf.io.encode_png(drawing).numpy())
    return {"scenes": [str(scenes)], "objects": [str(objects)]}


TINY_IMAGE = {
    "backbone": {
        "input_conv_filters": [64],
        "input_conv_kernel_sizes": [3],
        "stackwise_num_filters": [64],
        "stackwise_num_blocks": [1],
        "stackwise_num_strides": [1],
        "block_type": "basic_block",
    },
    "images": {"image_size": 16, "channels": 1, "count": 32, "object_fraction": 0.5},
    "batch_size": 8,
    "epochs": 1,
    "time_budget": 60,
}


@pytest.fixture(scope="module")
def image_base(tmp_path_factory):
    """The image base model built by `keras-ssl build-base --name image` on
    tiny synthetic images (4 steps of 8), and what the command printed."""
    root = tmp_path_factory.mktemp("image_base")
    roots = _write_images(root)
    tiny = {**base_models.BASE_MODELS["image"], **TINY_IMAGE}
    seen = []

    def fetch(cache_dir=None):
        seen.append(cache_dir)
        return roots

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(base_models.BASE_MODELS, "image", tiny)
        patch.setattr(base_models, "fetch_general_images", fetch)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            args = ["build-base", "--name", "image", "--cache-dir", str(root)]
            assert main(args) == 0
        again = base_models.build_base_model("image", cache_dir=str(root))
    assert seen == [str(root)]  # the second call fetched nothing
    return base_models.base_model_path("image", str(root)), out.getvalue(), again


def test_build_base_image_writes_a_keras_hub_preset(image_base):
    preset, out, again = image_base
    assert preset.endswith("image_v1")
    assert "Building the image base model: ResNet" in out
    assert "on 32 images (16x16, greyscale: crops of 2 photographs" in out
    assert "time budget 1 min" in out and "--method simclr" in out
    backbone = keras_hub.models.Backbone.from_preset(preset)
    assert isinstance(backbone, keras_hub.models.ResNetBackbone)
    converter = keras_hub.layers.ImageConverter.from_preset(preset)
    assert isinstance(converter, keras_hub.layers.ResNetImageConverter)
    assert converter.image_size is None  # any image size
    assert again == {"preset": preset, "built": False}


def test_image_base_loads_for_fashion_mnist_shapes(image_base):
    preset, _, _ = image_base
    encoder = load_image_encoder(preset, (28, 28, 1))
    images = np.random.default_rng(1).uniform(size=(3, 28, 28, 1)).astype("float32")
    features = encoder(images)
    assert tuple(features.shape) == (3, 64)
    # Greyscale is repeated to RGB inside the model: the same features as
    # the RGB encoder on grey-repeated images.
    rgb = load_image_encoder(preset, (28, 28, 3))
    np.testing.assert_allclose(
        rgb(np.repeat(images, 3, axis=-1)), features, rtol=1e-5, atol=1e-5
    )


def test_init_from_image_base_starts_from_exactly_its_weights(image_base):
    preset, _, _ = image_base
    images = np.random.default_rng(2).integers(0, 256, (16, 28, 28, 1), np.uint8)
    context = PretextContext(
        dataset="tiny_images", batch_size=8, model_kwargs={}, encoder=preset
    )
    pretext = recipes.get("simclr").build(LabeledData(images), context)
    saved = keras_hub.models.Backbone.from_preset(preset)
    (backbone,) = [
        layer
        for layer in pretext.model.encoder.layers
        if isinstance(layer, keras_hub.models.Backbone)
    ]
    assert len(backbone.weights) == len(saved.weights) > 10
    for ours, theirs in zip(backbone.weights, saved.weights, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=ours.path)


@pytest.mark.slow
def test_image_transfer_benchmark_quick(image_base, capsys):
    preset, _, _ = image_base
    path = os.path.join(ROOT, "benchmarks", "image_transfer_quality.py")
    spec = importlib.util.spec_from_file_location("image_transfer_quality", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--quick", "--base", preset]) == 0
    lines = [json.loads(s) for s in capsys.readouterr().out.splitlines() if s]
    assert [line["case"] for line in lines] == ["scratch", "base", "continued"]
    for line in lines:
        for key in ("linear_probe", "kNN_k20"):
            for column in ("ssl", "random_init", "raw_input"):
                assert 0.0 <= line[f"{key}/{column}"] <= 1.0
    assert [line["pretrain_steps"] for line in lines] == [2, 0, 2]
    # The same raw pixels for every case.
    assert len({line["linear_probe/raw_input"] for line in lines}) == 1
