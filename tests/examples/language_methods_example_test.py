"""Smoke test: examples/language_methods.py runs language objectives end to
end (next-sentence pairs and generation, the example's special paths).

Every objective's training is covered by its model tests and by
`tests/workflows/workflows_test.py`; here the example's own code runs.
"""

import importlib.util
import os

import pytest

from keras_ssl import recipes

EXAMPLE = os.path.join(
    os.path.dirname(__file__), "..", "..", "examples", "language_methods.py"
)


@pytest.mark.slow
def test_objectives_run_and_fine_tune():
    spec = importlib.util.spec_from_file_location("language_methods", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert set(module.METHODS) == set(recipes.names("text"))
    results = module.main(
        ["--method", "mlm_nsp,causal_lm", "--steps", "2", "--batch-size", "16"]
        + ["--corpus-size", "300", "--fine-tune-size", "64", "--fine-tune-epochs", "1"]
    )
    assert [r["method"] for r in results] == ["mlm_nsp", "causal_lm"]
    for result in results:
        assert 0.0 <= result["ssl"] <= 1.0 and 0.0 <= result["random_init"] <= 1.0
    # NSP trained on raw sentence pairs packed in the graph.
    assert "nsp_accuracy" in results[0]["metrics"]
    samples = results[1]["samples"]
    assert len(samples) == 2 and samples[0].startswith("a small")
