"""MoCo, BYOL and triplet on MirroredStrategy (two logical CPUs) match one device.

SGD (learning rate 0.5) on a global batch of 16 (8 per replica): three
steps for MoCo and BYOL, so the later steps read the queue and the EMA
targets that the earlier ones wrote; one step for triplet mining (see the
script). Views are deterministic (`AlternatingViews` in the script).
Tolerance: loss rtol 1e-5; every weight, target networks and queue
included, within 1e-5 * max(1, |w|) (float32 summation order differs).
"""

import numpy as np
import pytest
from distribute_helpers import run_script

pytestmark = pytest.mark.slow

METHODS = ["moco", "byol", "triplet:semi_hard", "triplet:batch_hard"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return run_script(
        "mirrored_methods_script.py", cwd=tmp_path_factory.mktemp("methods")
    )


def test_runs_on_two_replicas(results):
    assert results["replicas"] == 2


@pytest.mark.parametrize("method", METHODS)
def test_same_loss(results, method):
    single = results[method]["single_history"]
    multi = results[method]["multi_history"]
    np.testing.assert_allclose(multi["loss"], single["loss"], rtol=1e-5)
    if method == "moco":
        np.testing.assert_allclose(
            multi["contrastive_accuracy"], single["contrastive_accuracy"], atol=1e-6
        )


@pytest.mark.parametrize("method", METHODS)
def test_same_weights_and_state_after_training(results, method):
    r = results[method]
    assert max(r["init_diff"].values()) == 0.0, "same initial weights"
    # Training changed the trainable weights, and the EMA targets / queue,
    # so the comparison below is not trivial.
    moved = [k for k, u in r["update"].items() if u > 1e-6]
    still = set(r["trainable"]) - set(moved)
    if method == "byol":
        # The projector's output bias feeds the predictor's batch
        # normalization, which cancels it: its gradient is zero.
        still = {k for k in still if not k.endswith("bias")}
    assert not still, still
    if method in ("moco", "byol"):
        state = [k for k in r["update"] if k not in r["trainable"]]
        assert any(k in moved for k in state if "target" in k or "key" in k)
    if method == "moco":
        assert any("queue" in k for k in moved)
        assert any("pointer" in k for k in moved)
    bad = {
        k: diff
        for k, diff in r["after_diff"].items()
        if diff > 1e-5 * max(1.0, r["after_scale"][k])
    }
    assert not bad, f"weights differ after training (max abs diff): {bad}"
