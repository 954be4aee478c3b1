"""Smoke test: examples/tune_finetune.py, two trials of one epoch."""

import importlib.util
import json
import os

import pytest

pytest.importorskip("keras_tuner")

EXAMPLE = os.path.join(
    os.path.dirname(__file__), "..", "..", "examples", "tune_finetune.py"
)


@pytest.mark.slow
def test_search_retrains_and_exports_the_best(tmp_path):
    spec = importlib.util.spec_from_file_location("tune_finetune", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(
        ["--epochs", "1", "--steps", "2", "--batch-size", "32"]
        + ["--train-size", "256", "--test-size", "64"]
        + ["--max-trials", "2", "--trial-epochs", "1"]
        + ["--search-space", json.dumps({"batch_size": 32, "head_units": 0})]
        + ["--model-kwargs", json.dumps({"widths": [4, 8]})]
        + ["--output-dir", str(tmp_path / "runs")]
        + ["--export-dir", str(tmp_path / "exports")]
    )
    assert result["num_trials"] == 2 and result["num_failed"] == 0
    assert result["best_hyperparameters"]["batch_size"] == 32
    assert 0.0 <= result["test_accuracy"] <= 1.0
    assert os.path.isfile(result["classifier_path"])
    assert os.path.isfile(os.path.join(result["export_path"], "saved_model.pb"))
