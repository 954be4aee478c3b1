"""`pretrain(encoder=..., init_from=...)` and the CLI's `--encoder` /
`--init-from`: named keras-hub and Keras Applications encoders, presets in
and out, continued pretraining from exactly the saved weights."""

import json
import os

import keras_hub
import numpy as np
import pytest

from keras_ssl import recipes
from keras_ssl.app import pretrain
from keras_ssl.app.cli import main
from keras_ssl.app.export import save_preset
from keras_ssl.datasets import LabeledData
from keras_ssl.recipes import PretextContext

TEXTS = np.array(
    [
        "the cat sat on the mat",
        "a dog ran in the park",
        "the sun is hot today",
        "rain fell on the old town",
    ]
    * 8,
    dtype=object,
)
TEXT_SETTINGS = {"vocabulary_size": 60, "sequence_length": 12}


def _texts():
    return LabeledData(TEXTS, name="tiny_texts")


def _images():
    rng = np.random.default_rng(0)
    return LabeledData(rng.integers(0, 256, (16, 32, 32, 1), dtype=np.uint8))


@pytest.fixture(scope="module")
def bert_run(tmp_path_factory):
    """An MLM run on a named keras-hub BERT, and its encoder as a preset."""
    out = tmp_path_factory.mktemp("runs")
    result = pretrain(
        "mlm",
        _texts(),
        output_dir=str(out),
        epochs=1,
        batch_size=8,
        steps_per_epoch=2,
        verbose=0,
        encoder="bert_tiny",
        model_kwargs=dict(TEXT_SETTINGS),
    )
    preset = save_preset(result["model_path"], str(out / "preset"))
    return result, preset


def test_named_text_backbone_trains_and_saves_a_preset(bert_run):
    result, preset = bert_run
    assert result["steps"] == 2 and np.isfinite(result["loss"])
    config = json.load(open(os.path.join(result["run_dir"], "config.json")))
    assert config["encoder"] == "bert_tiny"
    backbone = keras_hub.models.Backbone.from_preset(preset)
    assert isinstance(backbone, keras_hub.models.BertBackbone)
    assert backbone.num_layers == 2 and backbone.hidden_dim == 128
    tokenizer = keras_hub.models.Tokenizer.from_preset(preset)
    vocab = open(os.path.join(result["run_dir"], "vocabulary.txt")).read().split("\n")
    assert tokenizer.get_vocabulary() == vocab[: len(tokenizer.get_vocabulary())]


def test_init_from_preset_starts_from_exactly_its_weights(bert_run):
    _, preset = bert_run
    context = PretextContext(
        dataset="tiny_texts", batch_size=8, model_kwargs={}, encoder=preset
    )
    pretext = recipes.get("mlm").build(_texts(), context)
    saved = keras_hub.models.Backbone.from_preset(preset)
    (backbone,) = [
        layer
        for layer in pretext.model.encoder.layers
        if isinstance(layer, keras_hub.models.Backbone)
    ]
    assert len(backbone.weights) == len(saved.weights) > 10
    for ours, theirs in zip(backbone.weights, saved.weights, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=ours.path)
    # The tied MLM head reads the preset's token embedding.
    assert pretext.model.preprocessor.vocabulary_size == saved.vocabulary_size
    assert pretext.vocabulary is None  # the vocabulary came with the preset


def test_cli_init_from_continues_a_preset(bert_run, tmp_path, capsys):
    _, preset = bert_run
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(TEXTS), encoding="utf-8")
    args = ["pretrain", "--method", "mlm", "--dataset", str(corpus)]
    args += ["--epochs", "1", "--batch-size", "8", "--steps-per-epoch", "1"]
    args += ["--output-dir", str(tmp_path / "runs"), "--init-from", preset]
    assert main(args) == 0
    assert "Summary" in capsys.readouterr().out
    (run,) = os.listdir(tmp_path / "runs")
    config = json.load(open(tmp_path / "runs" / run / "config.json", encoding="utf-8"))
    assert config["encoder"] == preset
    assert not os.path.exists(tmp_path / "runs" / run / "vocabulary.txt")


def test_init_from_a_text_run_keeps_its_vocabulary_and_weights(bert_run):
    result, _ = bert_run
    context = PretextContext(
        dataset="tiny_texts", batch_size=8, model_kwargs={}, encoder=result["run_dir"]
    )
    pretext = recipes.get("simcse").build(_texts(), context)
    trained = result["model"]
    assert pretext.model.preprocessor.get_config() == trained.preprocessor.get_config()
    for ours, theirs in zip(
        pretext.model.encoder.weights, trained.encoder.weights, strict=True
    ):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_image_method_on_a_keras_application_and_continued(tmp_path):
    first = pretrain(
        "simclr",
        _images(),
        output_dir=str(tmp_path),
        epochs=1,
        batch_size=8,
        steps_per_epoch=2,
        verbose=0,
        encoder="mobilenetv3small",
    )
    assert first["steps"] == 2 and np.isfinite(first["loss"])
    assert first["model"].encoder.output.shape[-1] > 16
    context = PretextContext(
        dataset="images", batch_size=8, model_kwargs={}, encoder=first["run_dir"]
    )
    pretext = recipes.get("byol").build(_images(), context)
    for ours, theirs in zip(
        pretext.model.encoder.weights, first["model"].encoder.weights, strict=True
    ):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize(
    "method, kwargs, message",
    [
        ("mlm", {"encoder": "bert_tiny", "init_from": "x"}, "exclude each other"),
        ("mae", {"encoder": "resnet50v2"}, "builds its own encoder"),
        ("causal_lm", {"encoder": "bert_tiny"}, "builds its own encoder"),
        ("simclr", {"encoder": "bert_tiny"}, "text encoder"),
        ("mlm", {"encoder": "mobilenetv3small"}, "image encoder"),
        ("simclr", {"encoder": "resnet50v2", "model_kwargs": {"widths": [8]}}, "size"),
        ("mlm", {"init_from": "bert_tiny"}, "must be the path"),
        ("mlm", {"init_from": "missing/preset"}, "names no file"),
        ("mlm", {"encoder": "no_such_net"}, "no_such_net"),
    ],
)
def test_bad_encoder_arguments_are_clear_errors(tmp_path, method, kwargs, message):
    data = _texts() if method in ("mlm", "causal_lm") else _images()
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        pretrain(
            method,
            data,
            output_dir=str(tmp_path),
            epochs=1,
            batch_size=8,
            steps_per_epoch=1,
            verbose=0,
            **kwargs,
        )


def test_finetune_top_k_on_a_keras_hub_backbone(bert_run, tmp_path):
    """`freeze="top-1"` trains the backbone's top Transformer layer only."""
    from keras_ssl.app import finetune
    from keras_ssl.evaluation.gradual_unfreezing import encoder_blocks

    result, _ = bert_run
    labels = np.arange(len(TEXTS)) % 2
    data = LabeledData(TEXTS, labels.astype("int32"), ["even", "odd"], name="pairs")
    model = result["model"]
    before = {w.path: w.numpy() for w in model.encoder.weights}
    names = [block.name for block in encoder_blocks(model.encoder)]
    assert names[0] == "embeddings" and names[-1] == "transformer_layer_1"
    tuned = finetune(
        model,
        (data, data),
        output_dir=str(tmp_path),
        epochs=1,
        batch_size=8,
        freeze="top-1",
        validation_split=None,
        probe_epochs=0,
        verbose=0,
    )
    assert 0.0 <= tuned["accuracy"] <= 1.0
    tuned_weights = {w.path: w.numpy() for w in tuned["model"].weights}
    assert set(before) <= set(tuned_weights)
    changed = {
        path.split("/")[0]
        for path, value in before.items()
        if not np.array_equal(value, tuned_weights[path])
    }
    assert changed == {"transformer_layer_1"}, changed
