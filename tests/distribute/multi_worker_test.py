"""MultiWorkerMirroredStrategy: two local worker processes stay in sync.

Both workers train a tiny SimCLR through
`keras_ssl.distribute.setup("multi_worker")` with `TF_CONFIG` on
127.0.0.1 (ports picked free at run time), each on its half of every global
batch; their saved weights must be identical. A hang fails after
`TIMEOUT` seconds instead of blocking CI.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from distribute_helpers import (
    HERE,
    free_ports,
    parse_results,
    subprocess_env,
    tiny_simclr,
)

pytestmark = pytest.mark.slow

TIMEOUT = 240
WORKERS = 2


def run_workers(out_dir):
    ports = free_ports(WORKERS)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes = []
    for index in range(WORKERS):
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        processes.append(
            subprocess.Popen(
                [sys.executable, os.path.join(HERE, "multi_worker_script.py"), out_dir],
                cwd=out_dir,
                env=subprocess_env(TF_CONFIG=json.dumps(tf_config)),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=TIMEOUT))
    except subprocess.TimeoutExpired:
        for process in processes:
            process.kill()
        logs = [p.communicate()[1][-3000:] for p in processes]
        pytest.fail(f"multi-worker training hung for {TIMEOUT} s:\n" + "\n".join(logs))
    results = []
    for process, (stdout, stderr) in zip(processes, outputs):
        result = parse_results(stdout)
        assert process.returncode == 0 and result is not None, (
            f"worker failed (rc={process.returncode}):\n{stdout[-2000:]}\n"
            f"{stderr[-6000:]}"
        )
        results.append(result)
    return results


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    return run_workers(str(tmp_path_factory.mktemp("multi_worker")))


def test_both_workers_train_on_two_replicas(workers):
    assert [w["index"] for w in workers] == [0, 1]
    for w in workers:
        assert w["multi_worker"] is True
        assert w["replicas"] == WORKERS
        assert w["jit_compile"] is False  # XLA is off for CPU replicas
        assert np.isfinite(w["history"]["loss"]).all()
        assert set(w["trainable"]) <= set(w["moved"])


def test_workers_report_the_same_global_metrics(workers):
    np.testing.assert_allclose(
        workers[0]["history"]["loss"], workers[1]["history"]["loss"], rtol=1e-6
    )


def test_workers_end_with_identical_saved_weights(workers):
    loaded = []
    for w in workers:
        model = tiny_simclr(seed=1)  # different init: loading must overwrite
        model.load_weights(w["weights_path"])
        loaded.append([np.asarray(v) for v in model.weights])
    fresh = tiny_simclr(seed=1)
    assert any(
        np.abs(a - np.asarray(b)).max() > 0 for a, b in zip(loaded[0], fresh.weights)
    )
    for a, b in zip(*loaded):
        np.testing.assert_array_equal(a, b)
