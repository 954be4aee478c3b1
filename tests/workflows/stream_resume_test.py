"""Exact resume on streamed sources.

A streamed run resumes by count: the pipeline is rebuilt with the same
seeds and skips the raw records already trained on before decoding them
(`StreamedData.batches(start_batch=...)`). The SIGKILL test trains tiny
SimCLR from TFRecord shards in a child process with op determinism, kills
it with SIGKILL in the middle of an epoch, resumes it in a new process and
compares every weight and optimizer variable with an uninterrupted run
(tolerance 0). The in-process test resumes a copy of an MLM run taken
mid-epoch on a streamed text file (tokenized in the pipeline).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_ssl.app import pretrain
from keras_ssl.datasets import from_arrays, stream_text_file, write_shards

CHILD = r"""
import json, os, sys, time

import keras_ssl  # noqa: F401
import keras
import numpy as np
import tensorflow as tf

tf.config.experimental.enable_op_determinism()
from keras_ssl.app import pretrain

shards, output_dir, resume, block_at, result_path = sys.argv[1:6]
block_at = int(block_at)


class Block(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        if int(self.model.optimizer.iterations) == block_at:
            open(os.path.join(output_dir, "blocked"), "w").close()
            time.sleep(3600)


result = pretrain(
    "simclr", shards, output_dir=output_dir, epochs=2, batch_size=8, seed=0,
    verbose=0, checkpoint_every=3, resume=resume == "resume",
    callbacks=[Block()],
    model_kwargs={"widths": (4, 8), "projection_dim": 4,
                  "projection_hidden_dims": (8,)},
)
model = result["model"]
arrays = {f"w{i}": np.asarray(v) for i, v in enumerate(model.weights)}
arrays.update({f"o{i}": np.asarray(v)
               for i, v in enumerate(model.optimizer.variables)})
np.savez(result_path, **arrays)
with open(result_path + ".json", "w") as f:
    json.dump({"history": result["history"],
               "resumed_from_step": result["resumed_from_step"]}, f)
"""


def _child(shards, output_dir, resume, block_at, result_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    log = open(f"{result_path}.{resume}.log", "w+")
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, shards, str(output_dir), resume]
        + [str(block_at), str(result_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    process.log = log
    return process


def _wait(process, timeout=600):
    process.wait(timeout=timeout)
    process.log.seek(0)
    assert process.returncode == 0, process.log.read()[-3000:]


@pytest.mark.slow
def test_sigkill_on_a_sharded_stream_then_resume_is_exact(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (64, 8, 8, 1), np.uint8)
    shards = str(tmp_path / "shards")
    write_shards(from_arrays(images), shards, shard_size=16, verbose=0)
    full_dir, killed_dir = tmp_path / "full", tmp_path / "killed"
    full_dir.mkdir()
    killed_dir.mkdir()
    reference = _child(shards, full_dir, "new", -1, tmp_path / "full.npz")
    process = _child(shards, killed_dir, "new", 11, tmp_path / "unused.npz")
    deadline = time.monotonic() + 600
    while not (killed_dir / "blocked").exists():
        assert process.poll() is None, "child exited before the kill point"
        assert time.monotonic() < deadline, "child did not reach the kill point"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    (run_dir,) = [p for p in killed_dir.iterdir() if p.is_dir()]
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    # 8 steps per epoch, checkpoints every 3: killed at step 11, resumed
    # from step 9, in the middle of the second epoch.
    assert (state["step"], state["epoch"], state["batch"]) == (9, 1, 1)
    resumed = _child(shards, killed_dir, "resume", -1, tmp_path / "resumed.npz")
    _wait(resumed)
    _wait(reference)
    with np.load(tmp_path / "full.npz") as a, np.load(tmp_path / "resumed.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    info = json.loads((tmp_path / "resumed.npz.json").read_text())
    expected = json.loads((tmp_path / "full.npz.json").read_text())
    assert info["resumed_from_step"] == 9
    assert info["history"] == expected["history"]


class _CopyRunAt(keras.callbacks.Callback):
    """Copies the run directory once `at` steps are done."""

    def __init__(self, output_dir, destination, at):
        super().__init__()
        self.output_dir, self.destination, self.at = output_dir, destination, at

    def on_train_batch_begin(self, batch, logs=None):
        if int(self.model.optimizer.iterations) == self.at:
            (run_dir,) = list(self.output_dir.iterdir())
            shutil.copytree(run_dir, self.destination)


@pytest.mark.slow
def test_mlm_on_a_streamed_text_file_resumes_exactly(tmp_path):
    words = "a cat sat on the mat dog ran in park birds fly over sea sky".split()
    rng = np.random.default_rng(0)
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(" ".join(rng.choice(words, 6)) for _ in range(40)))
    data = stream_text_file(str(path))
    args = dict(
        method="mlm",
        dataset=data,
        batch_size=8,
        epochs=2,
        seed=0,
        verbose=0,
        checkpoint_every=3,
        model_kwargs={
            "sequence_length": 8,
            "vocabulary_size": 40,
            "hidden_dim": 8,
            "num_layers": 1,
            "num_heads": 2,
            "intermediate_dim": 16,
        },
    )
    output_dir = tmp_path / "runs"
    copy = tmp_path / "copy" / "run"
    full = pretrain(
        output_dir=str(output_dir),
        callbacks=[_CopyRunAt(output_dir, copy, at=7)],
        **args,
    )
    state = json.loads((copy / "checkpoint" / "state.json").read_text())
    assert (state["step"], state["epoch"], state["batch"]) == (6, 1, 1)
    resumed = pretrain(output_dir=str(tmp_path / "copy"), resume=True, **args)
    assert resumed["resumed_from_step"] == 6
    for a, b in zip(full["model"].weights, resumed["model"].weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    assert resumed["history"] == full["history"]
    config = json.loads((copy / "config.json").read_text())
    assert config["num_examples"] == 40
