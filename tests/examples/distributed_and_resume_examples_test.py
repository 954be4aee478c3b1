"""Smoke tests: examples/distributed_training.py and examples/resume_training.py.

Both run in fresh processes: logical CPU devices must be configured before
TensorFlow initialises, and the resume example crashes its process on
purpose.
"""

import ast
import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def run(script, *args, timeout=300):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", KERAS_BACKEND="tensorflow")
    return subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def last_dict(stdout):
    line = [s for s in stdout.splitlines() if s.startswith("{")][-1]
    return ast.literal_eval(line)


@pytest.mark.slow
def test_distributed_example_mirrors_over_two_logical_cpus():
    args = ["--strategy", "mirrored", "--logical-cpus", "2", "--steps", "2"]
    done = run(
        "distributed_training.py",
        *args,
        *["--batch-size", "16", "--train-size", "256", "--widths", "4", "8"],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = last_dict(done.stdout)
    assert result["strategy"] == "MirroredStrategy"
    assert result["replicas"] == 2
    assert result["jit_compile"] is False  # replicas on CPU devices: no XLA
    assert result["steps"] == 2 and result["loss"] > 0


def test_distributed_example_rejects_a_batch_the_replicas_cannot_share():
    args = ["--strategy", "mirrored", "--logical-cpus", "2", "--batch-size", "15"]
    done = run("distributed_training.py", *args)
    assert done.returncode != 0
    assert "must be divisible by the number of replicas" in done.stderr


@pytest.mark.slow
def test_resume_example_continues_after_a_crash(tmp_path):
    args = [
        "--run-dir",
        str(tmp_path / "run"),
        *["--epochs", "2", "--steps", "4", "--batch-size", "16"],
        *["--train-size", "256", "--checkpoint-every", "2", "--widths", "4", "8"],
    ]
    crashed = run("resume_training.py", *args, "--crash-after", "5")
    assert crashed.returncode == 3, crashed.stderr[-3000:]
    assert "crashing after step 5" in crashed.stdout
    assert not os.path.exists(tmp_path / "run" / "model.keras")
    resumed = run("resume_training.py", *args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from step 4" in resumed.stdout
    assert "finished: 8 steps" in resumed.stdout
    assert "resumed from step: 4" in resumed.stdout
    assert "deprecated" not in resumed.stderr
    assert os.path.exists(tmp_path / "run" / "model.keras")
