"""Smoke test: examples/language_methods.py runs every language objective."""

import importlib.util
import os

import pytest

EXAMPLE = os.path.join(
    os.path.dirname(__file__), "..", "..", "examples", "language_methods.py"
)


@pytest.mark.slow
def test_every_objective_runs_and_fine_tunes():
    spec = importlib.util.spec_from_file_location("language_methods", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = module.main(
        ["--method", "all", "--steps", "2", "--batch-size", "16"]
        + ["--corpus-size", "300", "--fine-tune-size", "64", "--fine-tune-epochs", "1"]
    )
    assert [r["method"] for r in results] == list(module.METHODS)
    for result in results:
        assert 0.0 <= result["ssl"] <= 1.0 and 0.0 <= result["random_init"] <= 1.0
    # NSP trained on raw sentence pairs packed in the graph.
    assert "nsp_accuracy" in results[1]["metrics"]
    samples = results[2]["samples"]
    assert len(samples) == 2 and samples[0].startswith("a small")
