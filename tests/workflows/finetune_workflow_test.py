"""The finetune workflow and CLI on tiny pretrained image and text models."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.app import export, finetune, pretrain
from keras_ssl.app.cli import main
from keras_ssl.app.finetune import parse_freeze
from keras_ssl.datasets import load
from keras_ssl.evaluation import TaskClassifier

TINY_TEXT = {
    "sequence_length": 16,
    "vocabulary_size": 300,
    "hidden_dim": 16,
    "num_layers": 2,
    "intermediate_dim": 32,
}


def _read(run_dir, name):
    with open(os.path.join(run_dir, name)) as f:
        return json.load(f)


def _scalar_tags(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    tags = {}
    for run in os.listdir(log_dir):
        events = EventAccumulator(os.path.join(log_dir, run))
        events.Reload()
        tags[run] = set(events.Tags()["scalars"]) | set(events.Tags()["tensors"])
    return tags


@pytest.fixture(scope="module")
def image_model(tmp_path_factory):
    train = load("fashion_mnist", split="train").subset(128, seed=0)
    return pretrain(
        "simclr",
        train,
        output_dir=str(tmp_path_factory.mktemp("pretrain_images")),
        epochs=1,
        batch_size=32,
        steps_per_epoch=2,
        verbose=0,
        model_kwargs={"widths": (4, 8)},
    )["model_path"]


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    texts = load("wordnet").subset(256, seed=0)
    return pretrain(
        "mlm",
        texts,
        output_dir=str(tmp_path_factory.mktemp("pretrain_text")),
        epochs=1,
        batch_size=32,
        steps_per_epoch=2,
        verbose=0,
        model_kwargs=TINY_TEXT,
    )["model_path"]


@pytest.fixture(scope="module")
def image_run(image_model, tmp_path_factory):
    data = (
        load("fashion_mnist", split="train").subset(160, seed=1),
        load("fashion_mnist", split="test").subset(48, seed=1),
    )
    return finetune(
        image_model,
        data,
        output_dir=str(tmp_path_factory.mktemp("finetune_images")),
        epochs=3,
        batch_size=32,
        freeze="gradual",
        validation_split=0.2,
        early_stopping_patience=2,
        class_weight="balanced",
        verbose=0,
    )


def test_image_run_directory(image_run):
    run_dir = image_run["run_dir"]
    assert os.path.basename(run_dir).startswith("finetune-")
    for name in ("classifier.keras", "config.json", "metrics.json"):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    config = _read(run_dir, "config.json")
    assert config["freeze"] == "gradual" and config["modality"] == "images"
    assert config["label_names"][0] == "T-shirt/top"
    metrics = _read(run_dir, "metrics.json")
    assert metrics["num_train"] == 128 and metrics["num_val"] == 32
    assert metrics["num_test"] == 48
    for key in ("accuracy", "val_accuracy"):
        assert 0.0 <= metrics[key] <= 1.0
    assert 1 <= metrics["best_epoch"] <= metrics["epochs_run"] <= 3
    assert len(metrics["class_weight"]) == 10
    # One more block unfreezes each epoch (the history logs how many).
    assert image_run["history"]["unfrozen_blocks"] == list(range(metrics["epochs_run"]))
    tags = _scalar_tags(image_run["log_dir"])
    assert {"epoch_loss", "epoch_accuracy"} <= tags["train"]
    assert "epoch_loss" in tags["validation"]
    assert "test_accuracy" in tags["evaluation"]


def test_image_classifier_reloads_and_takes_uint8(image_run):
    import keras

    reloaded = keras.saving.load_model(image_run["model_path"])
    assert isinstance(reloaded, TaskClassifier)
    assert reloaded.preprocessor is None and len(reloaded.label_names) == 10
    images = load("fashion_mnist", split="test").x[:4]
    logits = reloaded.predict(images, verbose=0)
    assert logits.shape == (4, 10)
    np.testing.assert_allclose(
        logits, image_run["model"].predict(images, verbose=0), atol=1e-5
    )
    # uint8 images are scaled like the float images the head was trained on.
    np.testing.assert_allclose(
        logits,
        reloaded.predict(images.astype("float32") / 255.0, verbose=0),
        atol=1e-5,
    )


def test_text_finetune_reload_and_export(text_model, tmp_path):
    data = (
        load("wordnet_nouns", split="train").subset(128, seed=0),
        load("wordnet_nouns", split="test").subset(32, seed=0),
    )
    result = finetune(
        text_model,
        data,
        output_dir=str(tmp_path / "runs"),
        epochs=1,
        batch_size=32,
        freeze="top-1",
        validation_split=None,
        verbose=0,
    )
    assert result["num_val"] == 0 and result["val_accuracy"] is None
    assert 0.0 <= result["accuracy"] <= 1.0
    import keras

    reloaded = keras.saving.load_model(result["model_path"])
    assert isinstance(reloaded, TaskClassifier)
    assert reloaded.preprocessor.sequence_length == 16
    texts = np.array(["a small domestic cat", "the act of running"], dtype=object)
    np.testing.assert_allclose(
        reloaded.predict(texts, verbose=0),
        result["model"].predict(texts, verbose=0),
        atol=1e-5,
    )
    # `export` takes the fine-tuned classifier's .keras file.
    path = export(result["model_path"], "nouns", str(tmp_path / "models"))
    assert path == str(tmp_path / "models" / "nouns" / "1")
    served = tf.saved_model.load(path)
    assert set(served.signatures) == {"serving_default", "classify_token_ids"}
    out = served.signatures["serving_default"](texts=tf.constant(texts.tolist()))
    assert set(out) == {"probabilities", "label", "label_name"}
    np.testing.assert_allclose(
        out["probabilities"].numpy(),
        tf.nn.softmax(reloaded.predict(texts, verbose=0)).numpy(),
        atol=1e-5,
    )


def test_parse_freeze():
    assert parse_freeze("all") == {}
    assert parse_freeze("head") == {"freeze_encoder": True}
    assert parse_freeze("top-2") == {"trainable_layers": 2}
    assert parse_freeze("gradual") == {"gradual_unfreezing": True}
    for bad in ("top", "top-x", "bottom-1", None):
        with pytest.raises(ValueError, match="freeze"):
            parse_freeze(bad)


def test_bad_arguments(image_model, text_model, tmp_path):
    images = (
        load("fashion_mnist", split="train").subset(32, seed=0),
        load("fashion_mnist", split="test").subset(8, seed=0),
    )
    out = str(tmp_path)
    with pytest.raises(ValueError, match="more blocks"):
        finetune(image_model, images, output_dir=out, freeze="top-99")
    with pytest.raises(ValueError, match="must be texts"):
        finetune(text_model, images, output_dir=out)
    unlabelled = load("wordnet").subset(8, seed=0)
    unlabelled.y = None
    with pytest.raises(ValueError, match="labelled data"):
        finetune(text_model, (unlabelled, unlabelled), output_dir=out)
    with pytest.raises(ValueError, match="validation split"):
        finetune(
            image_model,
            images,
            output_dir=out,
            validation_split=0,
            early_stopping_patience=1,
        )
    with pytest.raises(ValueError, match="epochs"):
        finetune(image_model, images, output_dir=out, epochs=0)
    assert os.listdir(tmp_path) == []  # no run directory for bad arguments


def test_cli_finetune_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["finetune", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: keras-ssl finetune" in out
    for flag in ("--freeze", "--patience", "--class-weight", "--validation-split"):
        assert flag in out


def test_cli_finetune_errors_are_one_line(tmp_path, image_model, capsys):
    code = main(["finetune", "--model", str(tmp_path / "nope.keras")])
    assert code == 2
    err = capsys.readouterr().err
    assert "must be a path to a .keras file" in err and "Traceback" not in err
    code = main(["finetune", "--model", image_model, "--freeze", "top-x"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-ssl finetune: error: Argument `freeze`")
    assert len(err.strip().splitlines()) == 2  # the error and the --debug hint


def test_cli_finetune_image_folder_then_export(tmp_path, image_model, capsys):
    """Path data (split here), then `keras-ssl export` of the classifier."""
    images = load("fashion_mnist", split="test").subset(40, seed=0)
    for i, (image, label) in enumerate(zip(images.x, images.y % 2)):
        folder = tmp_path / "folder" / ("even" if label == 0 else "odd")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.png").write_bytes(tf.io.encode_png(image).numpy())
    args = ["finetune", "--model", image_model, "--dataset", str(tmp_path / "folder")]
    args += ["--epochs", "2", "--batch-size", "8", "--freeze", "head"]
    args += ["--patience", "1", "--output-dir", str(tmp_path / "runs")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Summary:" in out and "classifier.keras" in out
    (run,) = os.listdir(tmp_path / "runs")
    classifier = str(tmp_path / "runs" / run / "classifier.keras")
    metrics = _read(tmp_path / "runs" / run, "metrics.json")
    assert metrics["num_test"] == 8 and metrics["num_val"] == 3
    base = str(tmp_path / "models")
    export_args = ["export", "--model", classifier, "--name", "parity"]
    assert main([*export_args, "--base-dir", base]) == 0
    assert main([*export_args, "--base-dir", base]) == 0
    assert main([*export_args, "--base-dir", base, "--version", "1"]) == 2
    assert sorted(os.listdir(os.path.join(base, "parity"))) == ["1", "2"]
    served = tf.saved_model.load(os.path.join(base, "parity", "1"))
    assert set(served.signatures) == {"serving_default", "classify_prepared"}
    out = served.signatures["serving_default"](images=tf.constant(images.x[:3]))
    assert [n.decode() for n in out["label_name"].numpy()] == [
        ["even", "odd"][i] for i in out["label"].numpy()
    ]
