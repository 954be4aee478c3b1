"""`pretrain(deterministic=True)`: the same seed gives the same bits.

Op determinism is process-wide and cannot be turned off again, so the runs
happen in a fresh Python process.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    import numpy as np

    from keras_ssl.datasets import from_arrays
    from keras_ssl.app import pretrain

    images = np.random.default_rng(0).integers(0, 256, (64, 8, 8, 1), "uint8")
    weights, configs = [], []
    for _ in range(2):
        result = pretrain(
            "simclr", from_arrays(images), output_dir=sys.argv[1], epochs=1,
            batch_size=16, seed=5, deterministic=True, verbose=0,
            model_kwargs={"widths": (4, 8)},
        )
        weights.append([w.numpy() for w in result["model"].weights])
        configs.append(json.load(open(result["run_dir"] + "/config.json")))
    print("RESULT " + json.dumps({
        "max_diff": max(float(np.abs(a - b).max())
                        for a, b in zip(*weights)),
        "changed": max(float(np.abs(w).max()) for w in weights[0]) > 0,
        "deterministic": [c["deterministic"] for c in configs],
        "jit_compile": [c["jit_compile"] for c in configs],
    }))
    """
)


@pytest.mark.slow
def test_two_deterministic_runs_are_bit_identical(tmp_path):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", KERAS_BACKEND="tensorflow")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = [s for s in done.stdout.splitlines() if s.startswith("RESULT ")][-1]
    result = json.loads(line[len("RESULT ") :])
    assert result["max_diff"] == 0.0
    assert result["changed"]
    assert result["deterministic"] == [True, True]
    assert result["jit_compile"] == [False, False]


def test_deterministic_must_be_a_bool(tmp_path):
    from keras_ssl.app import pretrain

    with pytest.raises(ValueError, match="`deterministic` must be True or False"):
        pretrain("simclr", output_dir=str(tmp_path), deterministic="yes")
