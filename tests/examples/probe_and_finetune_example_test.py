"""Smoke test: examples/probe_and_finetune.py, image and text, a few steps."""

import importlib.util
import json
import os

import pytest

EXAMPLE = os.path.join(
    os.path.dirname(__file__), "..", "..", "examples", "probe_and_finetune.py"
)


def load_example():
    spec = importlib.util.spec_from_file_location("probe_and_finetune", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_image_method_probe_knn_fine_tune_and_figures(tmp_path):
    result = load_example().main(
        ["--method", "simclr", "--epochs", "1", "--steps", "2", "--batch-size", "32"]
        + ["--train-size", "256", "--test-size", "64", "--fine-tune-epochs", "1"]
        + ["--freeze", "top-1", "--model-kwargs", json.dumps({"widths": [8, 16]})]
        + ["--output-dir", str(tmp_path / "runs"), "--plots", str(tmp_path / "png")]
    )
    protocols = [row["protocol"] for row in result["rows"]]
    # 256 training images of 10 classes: the label-fraction rows, and k
    # capped at a tenth of a class (25 images), 2.
    assert protocols[:4] == [
        "linear probe",
        "linear probe 10% labels (26)",
        "linear probe 1% labels (10)",
        "kNN k=2 (asked 20)",
    ]
    assert protocols[4].startswith("fine-tune 10% labels")
    for row in result["rows"]:
        assert row["task"] == "fashion_mnist"
        for key in ("ssl", "random_init", "raw_input"):
            assert 0.0 <= row[key] <= 1.0
    assert 0.0 <= result["finetune_accuracy"] <= 1.0
    assert os.path.isfile(result["classifier_path"])
    names = sorted(os.path.basename(p) for p in result["figures"])
    assert names == ["baselines.png", "embedding_map.png", "pretraining.png"]
    for path in result["figures"]:
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_text_method_fine_tunes_with_both_baselines(tmp_path):
    tiny = {
        "sequence_length": 16,
        "vocabulary_size": 300,
        "hidden_dim": 16,
        "num_layers": 1,
        "intermediate_dim": 32,
    }
    result = load_example().main(
        ["--method", "mlm", "--epochs", "1", "--steps", "2", "--batch-size", "32"]
        + ["--train-size", "128", "--test-size", "64", "--fine-tune-epochs", "1"]
        + ["--freeze", "head", "--model-kwargs", json.dumps(tiny)]
        + ["--output-dir", str(tmp_path)]
    )
    (row,) = result["rows"]
    assert row["task"] == "wordnet_nouns" and row["protocol"].startswith("fine-tune")
    for key in ("ssl", "random_init", "raw_input"):
        assert 0.0 <= row[key] <= 1.0
    assert result["figures"] == []
    assert os.path.isfile(result["classifier_path"])
