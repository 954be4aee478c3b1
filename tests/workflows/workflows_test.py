"""End-to-end workflow tests on a few batches of the real embedded data."""

import json
import os

import numpy as np
import pytest

from keras_ssl.app import (
    evaluate_images,
    evaluate_text,
    export,
    fine_tune_images,
    load_ssl_model,
    pretrain,
)
from keras_ssl.app.cli import main
from keras_ssl.datasets import LabeledData, load

TINY_MLM = {
    "sequence_length": 16,
    "vocabulary_size": 300,
    "hidden_dim": 16,
    "num_layers": 1,
    "intermediate_dim": 32,
}


def tensorboard_tags(log_dir):
    """Scalar tags per run folder, read back from the event files."""
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    tags = {}
    for run in os.listdir(log_dir):
        events = EventAccumulator(os.path.join(log_dir, run))
        events.Reload()
        names = set(events.Tags()["scalars"]) | set(events.Tags()["tensors"])
        tags[run] = names
    return tags


@pytest.fixture(scope="module")
def images():
    return (
        load("fashion_mnist", split="train").subset(256, seed=0),
        load("fashion_mnist", split="test").subset(64, seed=0),
    )


@pytest.mark.slow
def test_simclr_pretrain_evaluate_export(tmp_path, images):
    train, test = images
    result = pretrain(
        "simclr",
        train,
        output_dir=str(tmp_path / "runs"),
        epochs=1,
        batch_size=32,
        steps_per_epoch=3,
        verbose=0,
        model_kwargs={"widths": (8, 16), "projection_hidden_dims": (32,)},
    )
    run_dir = result["run_dir"]
    for name in ("model.keras", "encoder.keras", "config.json", "metrics.json"):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert metrics["steps"] == 3
    assert np.isfinite(metrics["loss"])
    assert 0.0 <= metrics["contrastive_accuracy"] <= 1.0
    rows = evaluate_images(
        result["model_path"], (train, test), knn_k=(5,), log_dir=result["log_dir"]
    )
    tags = tensorboard_tags(result["log_dir"])
    for tag in ("epoch_loss", "epoch_contrastive_accuracy", "epoch_learning_rate"):
        assert tag in tags["train"], tags
    assert {"probe_accuracy", "knn_accuracy"} <= tags["evaluation"]
    # 256 training images of 10 classes: the label-fraction rows, and k
    # capped at a tenth of a class (25 images), 2.
    assert [r["protocol"] for r in rows] == [
        "linear probe",
        "linear probe 10% labels (26)",
        "linear probe 1% labels (10)",
        "kNN k=2 (asked 5)",
    ]
    for row in rows:
        for key in ("ssl", "random_init", "raw_input"):
            assert 0.0 <= row[key] <= 1.0

    path = export(result["model_path"], "tiny", str(tmp_path / "exports"))
    assert path.endswith(os.path.join("tiny", "1"))
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))

    # The CLI takes the next version and refuses an existing one.
    base = str(tmp_path / "exports")
    args = ["export", "--model", result["model_path"], "--name", "tiny"]
    assert main([*args, "--base-dir", base]) == 0
    assert os.path.isdir(os.path.join(base, "tiny", "2"))
    assert main([*args, "--base-dir", base, "--version", "1"]) == 2
    assert main([*args, "--base-dir", base, "--version", "x"]) == 2
    assert sorted(os.listdir(os.path.join(base, "tiny"))) == ["1", "2"]


@pytest.mark.slow
def test_mlm_pretrain_and_fine_tune(tmp_path):
    texts = load("wordnet").subset(512, seed=0)
    result = pretrain(
        "mlm",
        texts,
        output_dir=str(tmp_path),
        epochs=1,
        batch_size=32,
        steps_per_epoch=3,
        verbose=0,
        model_kwargs=TINY_MLM,
    )
    assert result["steps"] == 3
    assert np.isfinite(result["loss"])
    vocab = open(os.path.join(result["run_dir"], "vocabulary.txt")).read().split()
    assert vocab[:5] == ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"]
    nouns = (
        load("wordnet_nouns", split="train").subset(128, seed=0),
        load("wordnet_nouns", split="test").subset(64, seed=0),
    )
    rows = evaluate_text(
        result["model"], nouns, epochs=1, batch_size=32, probe_epochs=1
    )
    assert rows[0]["protocol"] == "fine-tune 1 ep (128)"
    for key in ("ssl", "random_init", "raw_input"):
        assert 0.0 <= rows[0][key] <= 1.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "simclrr"}, "Did you mean 'simclr'"),
        ({"method": "simclr", "epochs": 0}, "epochs"),
        ({"method": "simclr", "learning_rate": -1.0}, "learning_rate"),
        ({"method": "simclr", "dataset": "fashion_mnistt"}, "fashion_mnist"),
        ({"method": "mlm", "dataset": "fashion_mnist"}, "mlm needs text"),
        ({"method": "simcse", "dataset": "fashion_mnist"}, "simcse needs text"),
    ],
)
def test_pretrain_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        pretrain(output_dir=str(tmp_path), verbose=0, **kwargs)


def test_pretrain_bad_data(tmp_path):
    rank3 = LabeledData(np.zeros((8, 28, 28), "uint8"), name="rank3")
    with pytest.raises(ValueError, match=r"x.shape=\(8, 28, 28\)"):
        pretrain("simclr", rank3, output_dir=str(tmp_path), verbose=0)
    empty = LabeledData(np.zeros((0, 28, 28, 1), "uint8"), name="empty")
    with pytest.raises(ValueError, match="empty"):
        pretrain("simclr", empty, output_dir=str(tmp_path), verbose=0)
    numbers = LabeledData(np.array([1, 2, 3], dtype=object), name="numbers")
    with pytest.raises(ValueError, match=r"texts\[0\]=1 of type int"):
        pretrain("mlm", numbers, output_dir=str(tmp_path), verbose=0)
    small = load("fashion_mnist", split="test").subset(16, seed=0)
    with pytest.raises(ValueError, match="batch_size=32 for 16 examples"):
        pretrain("simclr", small, batch_size=32, output_dir=str(tmp_path), verbose=0)


def test_cli_help(capsys):
    commands = ("pretrain", "probe", "finetune", "tune", "tune-pretraining")
    for command in (*commands, "export", "demo"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "usage: keras-ssl" in capsys.readouterr().out


def test_cli_model_kwargs_must_be_a_json_object(tmp_path, capsys):
    for bad in ("{not json", "[1, 2]"):
        args = ["pretrain", "--model-kwargs", bad, "--output-dir", str(tmp_path)]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert "`--model-kwargs` must be a JSON object" in err
        assert "Traceback" not in err


def test_cli_errors_are_one_line(tmp_path, capsys):
    code = main(["pretrain", "--method", "byoll", "--output-dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "Unknown method" in err and "Traceback" not in err
    code = main(["export", "--model", str(tmp_path / "nope.keras"), "--name", "x"])
    assert code == 2
    assert "must be a path to a .keras file" in capsys.readouterr().err


CONV = {"widths": (4, 8)}
METHOD_KWARGS = {
    "moco": {**CONV, "queue_size": 64},
    "triplet": CONV,
    "byol": CONV,
    "simsiam": CONV,
    "barlow_twins": {**CONV, "projection_dim": 16, "projection_hidden_dims": (16,)},
    "vicreg": {**CONV, "projection_dim": 16, "projection_hidden_dims": (16,)},
    "autoencoder": CONV,
    "rotation": CONV,
    "mae": {"encoder_dim": 8, "decoder_dim": 8, "depth": 1, "patch_size": 7},
    "deepcluster": {**CONV, "num_clusters": 4},
    "dino": {**CONV, "output_dim": 16, "hidden_dim": 16, "bottleneck_dim": 8},
    "swav": {**CONV, "projection_dim": 8, "projection_hidden_dims": (16,)},
}


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(METHOD_KWARGS))
def test_every_image_method_pretrains_and_reloads(tmp_path, images, method):
    result = pretrain(
        method,
        images[0],
        output_dir=str(tmp_path),
        epochs=1,
        batch_size=32,
        steps_per_epoch=2,
        verbose=0,
        model_kwargs=METHOD_KWARGS[method],
    )
    assert result["steps"] == 2 and np.isfinite(result["loss"])
    model = load_ssl_model(result["model_path"])
    out = model.predict(images[1].x[:3], verbose=0)
    np.testing.assert_allclose(
        out, result["model"].predict(images[1].x[:3], verbose=0), atol=1e-5
    )


TEXT_METRICS = {
    "causal_lm": {"perplexity", "next_token_accuracy"},
    "mlm_nsp": {"mlm_accuracy", "nsp_accuracy"},
    "rtd": {"mlm_accuracy", "rtd_accuracy", "replaced_fraction"},
    "simcse": {"contrastive_accuracy"},
}


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(TEXT_METRICS))
def test_every_text_method_pretrains_and_reloads(tmp_path, method):
    texts = load("wordnet").subset(256, seed=0)
    result = pretrain(
        method,
        texts,
        output_dir=str(tmp_path),
        epochs=1,
        batch_size=32,
        steps_per_epoch=2,
        verbose=0,
        model_kwargs=TINY_MLM,
    )
    assert result["steps"] == 2 and np.isfinite(result["loss"])
    assert TEXT_METRICS[method] <= set(result)
    model = load_ssl_model(result["model_path"])
    sentences = np.array(["a small dog", "the act of running"], dtype=object)
    np.testing.assert_allclose(
        model.predict(sentences, verbose=0),
        result["model"].predict(sentences, verbose=0),
        atol=1e-5,
    )


@pytest.mark.slow
def test_fine_tune_images_on_label_fractions(tmp_path, images):
    train, test = images
    result = pretrain(
        "simclr",
        train,
        output_dir=str(tmp_path),
        epochs=1,
        batch_size=32,
        steps_per_epoch=2,
        verbose=0,
        model_kwargs={"widths": (4, 8)},
    )
    rows = fine_tune_images(
        result["model"], (train, test), fractions=(0.25, 1.0), epochs=1
    )
    assert [r["protocol"] for r in rows] == [
        "fine-tune 25% labels (64)",
        "fine-tune 100% labels (256)",
    ]
    for row in rows:
        for key in ("ssl", "random_init", "raw_input"):
            assert 0.0 <= row[key] <= 1.0
    with pytest.raises(ValueError, match="fraction=0"):
        fine_tune_images(result["model"], (train, test), fractions=(0,))
