"""Smoke test: examples/vision_methods.py builds every image method and runs
a two-view method and the clustering one (its own data path) end to end.

Each method's training itself is covered by its model tests and by
`tests/workflows/workflows_test.py`; here the example's own code runs.
"""

import importlib.util
import os

import numpy as np
import pytest

from keras_ssl import recipes
from keras_ssl.models import SSLModel

EXAMPLE = os.path.join(
    os.path.dirname(__file__), "..", "..", "examples", "vision_methods.py"
)


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("vision_methods", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_listed_method_builds_and_embeds(example):
    assert set(example.METHODS) <= set(recipes.names("image"))
    images = np.random.default_rng(0).random((2, 28, 28, 1), dtype="float32")
    for method in example.METHODS:
        model = example.build(method, (28, 28, 1), 10, 0)
        assert isinstance(model, SSLModel), method
        assert np.all(np.isfinite(model.encoder(images))), method


@pytest.mark.slow
def test_one_method_of_each_kind_runs_one_step_and_probes(example):
    methods = ("simclr", "deepcluster")
    args = ["--method", ",".join(methods), "--steps", "1", "--batch-size", "32"]
    results = example.main([*args, "--train-size", "200"])
    assert [r["method"] for r in results] == list(methods)
    for result in results:
        assert result["steps"] == 1
        assert 0.0 <= result["probe_ssl"] <= 1.0
        assert 0.0 <= result["probe_random_init"] <= 1.0


def test_unknown_method_is_a_clear_error(example, capsys):
    with pytest.raises(SystemExit):
        example.main(["--method", "simclr,byoll"])
    assert "unknown ['byoll']" in capsys.readouterr().err
