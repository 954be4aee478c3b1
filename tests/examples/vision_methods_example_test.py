"""Smoke test: examples/vision_methods.py runs every image method."""

import importlib.util
import os

import pytest

EXAMPLE = os.path.join(
    os.path.dirname(__file__), "..", "..", "examples", "vision_methods.py"
)


@pytest.mark.slow
def test_every_method_runs_one_step_and_probes():
    spec = importlib.util.spec_from_file_location("vision_methods", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = ["--method", "all", "--steps", "1", "--batch-size", "32"]
    results = module.main([*args, "--train-size", "200"])
    assert [r["method"] for r in results] == list(module.METHODS)
    for result in results:
        assert result["steps"] == 1
        assert 0.0 <= result["probe_ssl"] <= 1.0
        assert 0.0 <= result["probe_random_init"] <= 1.0
