"""MultiWorkerMirroredStrategy on TFRecord shards: sharding between workers.

`StreamedData.batches(..., num_workers=n)` asks `tf.data` to shard by file
when there are at least as many files as workers, by example otherwise.
Two local worker processes (`TF_CONFIG` on 127.0.0.1, ports picked free at
run time) pretrain a tiny SimCLR on a shard folder with
`strategy="multi_worker"` and must end with identical weights; then they
read shards whose labels are example ids through
`strategy.experimental_distribute_dataset`, as Keras's `fit` does: the ids
the two workers get must be disjoint and cover every example, and a
pipeline resumed at step k must give each worker what it got from step k
on. A hang fails after `TIMEOUT` seconds instead of blocking CI.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from distribute_helpers import (
    HERE,
    free_ports,
    load_values,
    parse_results,
    subprocess_env,
)

import keras_ssl
from keras_ssl.datasets import LabeledData, StreamedData, write_shards

TIMEOUT = 240
WORKERS = 2
EXAMPLES = 96
SHARD_SIZE = 24  # 4 shards
GLOBAL_BATCH = 16
AutoShardPolicy = tf.data.experimental.AutoShardPolicy


def test_shard_policy_is_by_file_with_a_file_per_worker():
    def files(n):
        return StreamedData(items=[f"f{i}" for i in range(n)], parse=None, read=len)

    assert files(4).shard_policy(2) == AutoShardPolicy.FILE
    assert files(2).shard_policy(2) == AutoShardPolicy.FILE
    assert files(1).shard_policy(2) == AutoShardPolicy.DATA
    assert files(3).shard_policy(4) == AutoShardPolicy.DATA
    arrays = StreamedData(items=(np.arange(8),), parse=None)
    assert arrays.shard_policy(2) == AutoShardPolicy.DATA


def test_batches_set_and_log_the_policy(caplog):
    data = StreamedData(
        items=tf.data.Dataset.range(8), parse=lambda x: x, name="numbers"
    )
    with caplog.at_level("INFO", logger="keras_ssl"):
        ds = data.batches(4, num_workers=2)
    assert ds.options().experimental_distribute.auto_shard_policy == (
        AutoShardPolicy.DATA
    )
    assert "Sharding 'numbers' between 2 workers by example (policy DATA" in (
        caplog.text
    )
    assert data.batches(4).options().experimental_distribute.auto_shard_policy == (
        AutoShardPolicy.AUTO
    )
    # Built only, never read: the files need not exist.
    shards = StreamedData(
        items=["a.tfrecord", "b.tfrecord"],
        parse=lambda record: record,
        read=tf.data.TFRecordDataset,
        name="shards",
    )
    caplog.clear()
    with caplog.at_level("INFO", logger="keras_ssl"):
        ds = shards.batches(4, shuffle=True, seed=0, repeat=True, num_workers=2)
    assert ds.options().experimental_distribute.auto_shard_policy == (
        AutoShardPolicy.FILE
    )
    assert "Sharding 'shards' between 2 workers by file (policy FILE, 2 files" in (
        caplog.text
    )


def run_workers(out_dir, *args):
    ports = free_ports(WORKERS)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    script = os.path.join(HERE, "multi_worker_shards_script.py")
    processes = []
    for index in range(WORKERS):
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        processes.append(
            subprocess.Popen(
                [sys.executable, script, out_dir, *args],
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
        pytest.fail(f"multi-worker run hung for {TIMEOUT} s:\n" + "\n".join(logs))
    results = [parse_results(stdout) for stdout, _ in outputs]
    if any(p.returncode or r is None for p, r in zip(processes, results)):
        # Every worker's log: the first to fail may take the other down.
        logs = [
            f"worker {i} (rc={p.returncode}):\n{stdout[-2000:]}\n{stderr[-5000:]}"
            for i, (p, (stdout, stderr)) in enumerate(zip(processes, outputs))
        ]
        pytest.fail("\n".join(logs))
    return results


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("multi_worker_shards")
    images = keras_ssl.datasets.load("fashion_mnist").subset(EXAMPLES)
    # Labels are example ids: shard s holds ids [24 s, 24 s + 24).
    ids = LabeledData(
        images.x, np.arange(EXAMPLES), [f"id{i}" for i in range(EXAMPLES)], "ids"
    )
    four, one = str(tmp / "four"), str(tmp / "one")
    write_shards(ids, four, shard_size=SHARD_SIZE, verbose=0)
    write_shards(ids, one, shard_size=EXAMPLES, verbose=0)
    return run_workers(str(tmp), four, one)


def shards_of(ids):
    return sorted({i // SHARD_SIZE for i in ids})


@pytest.mark.slow
def test_workers_see_two_workers_and_stream_by_file(workers):
    assert [w["index"] for w in workers] == [0, 1]
    for w in workers:
        assert w["num_workers"] == WORKERS
        assert w["replicas"] == WORKERS
        assert w["strategy"] in (
            "MultiWorkerMirroredStrategy",
            "CollectiveAllReduceStrategy",
        )
        # Only a streamed source is sharded: the folder was streamed.
        assert any(
            m.startswith("Sharding 'four' between 2 workers by file (policy FILE, 4")
            for m in w["pretrain_log"]
        ), w["pretrain_log"]
        assert np.isfinite(w["history"]["loss"]).all()
        assert any(
            m.startswith("Sharding 'one' between 2 workers by example (policy DATA, 1")
            for m in w["dataset_log"]
        ), w["dataset_log"]


@pytest.mark.slow
def test_workers_end_with_identical_weights(workers):
    np.testing.assert_allclose(
        workers[0]["history"]["loss"], workers[1]["history"]["loss"], rtol=1e-6
    )
    (w0, o0), (w1, o1) = (load_values(w["weights_path"]) for w in workers)
    assert len(w0) > 0 and len(o0) > 0
    for a, b in zip(w0 + o0, w1 + o1):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["file", "data"])
def test_one_pass_splits_examples_without_overlap_or_loss(workers, policy):
    seen = [w["one_pass"][policy] for w in workers]
    # Each step, each worker gets its half of the global batch.
    assert len(seen[0]) == len(seen[1]) == EXAMPLES // GLOBAL_BATCH
    for steps in seen:
        assert all(len(step) == GLOBAL_BATCH // WORKERS for step in steps)
    ids = [sorted(i for step in steps for i in step) for steps in seen]
    assert len(set(ids[0])) == len(ids[0]) and len(set(ids[1])) == len(ids[1])
    assert not set(ids[0]) & set(ids[1])
    assert sorted(ids[0] + ids[1]) == list(range(EXAMPLES))
    if policy == "file":  # whole shards per worker
        assert len(shards_of(ids[0])) == len(shards_of(ids[1])) == 2
    else:  # each global batch split: both workers read every part
        assert shards_of(ids[0]) == shards_of(ids[1]) == [0, 1, 2, 3]


@pytest.mark.slow
def test_training_pipeline_keeps_each_workers_files(workers):
    # Shuffled and repeated (records of several passes mixed): each worker
    # still reads only its own shards.
    shards = [
        shards_of(i for step in w["training"]["file"] for i in step) for w in workers
    ]
    assert len(shards[0]) == len(shards[1]) == 2
    assert not set(shards[0]) & set(shards[1])


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["file", "data"])
def test_resumed_pipeline_continues_each_workers_stream(workers, policy):
    for w in workers:
        full, resumed = w["training"][policy], w["resumed"][policy]
        assert all(len(step) == GLOBAL_BATCH // WORKERS for step in full)
        assert resumed == full[w["resume_at"] :]
