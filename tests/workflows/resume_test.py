"""Resuming interrupted runs of `pretrain` and `finetune`.

The SIGKILL test runs tiny SimCLR pretraining (64 random 8x8 images, batch
8, 3 epochs of 8 steps, a checkpoint every 3 steps) in child processes with
`tf.config.experimental.enable_op_determinism()`: one uninterrupted run,
and one run killed with SIGKILL at three points in the middle of epochs
(after 5, 13 and 19 steps, so resumed from the checkpoints at steps 3, 12
and 18), each time resumed with `resume=True` by a new process. The final
weights, optimizer variables and per-epoch metrics must equal those of the
uninterrupted run exactly (tolerance 0: same float32 bits): the same
device, the same deterministic kernels and the same sequence of batches,
random draws and learning rates.

The in-process tests copy the run directory while a run is in the middle
of an epoch (what a crash leaves on disk: config, vocabulary, checkpoint),
let the run finish, then resume the copy and compare, also exactly, for
MoCo (EMA target and queue), the masked language model (text) and
DeepCluster (pseudo-labels restored mid-epoch, re-clustering at the next
epoch start). They run in the test process without op determinism: these
CPU kernels are deterministic run to run.
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

from keras_ssl.app import finetune, pretrain
from keras_ssl.datasets import from_arrays
from keras_ssl.models import SimCLR

KILL_AT = (5, 13, 19)  # steps done when killed; 8 steps per epoch

CHILD = r"""
import json, os, sys, time

import keras_ssl  # noqa: F401  (TensorFlow backend)
import keras
import numpy as np
import tensorflow as tf

tf.config.experimental.enable_op_determinism()

from keras_ssl.datasets import from_arrays
from keras_ssl.app import pretrain

output_dir, resume, block_at, result_path = sys.argv[1:5]
block_at = int(block_at)


class Block(keras.callbacks.Callback):
    # Stops (forever) once `block_at` steps are done: the parent kills us.
    def on_train_batch_begin(self, batch, logs=None):
        if int(self.model.optimizer.iterations) == block_at:
            open(os.path.join(output_dir, f"blocked-{block_at}"), "w").close()
            time.sleep(3600)


images = np.random.default_rng(0).integers(0, 256, (64, 8, 8, 1), dtype=np.uint8)
result = pretrain(
    "simclr",
    from_arrays(images),
    output_dir=output_dir,
    epochs=3,
    batch_size=8,
    seed=0,
    verbose=0,
    checkpoint_every=3,
    resume=resume == "resume",
    callbacks=[Block()],
    model_kwargs={"widths": (4, 8), "projection_dim": 4,
                  "projection_hidden_dims": (8,)},
)
model = result["model"]
arrays = {f"w{i}": np.asarray(v) for i, v in enumerate(model.weights)}
arrays.update(
    {f"o{i}": np.asarray(v) for i, v in enumerate(model.optimizer.variables)}
)
np.savez(result_path, **arrays)
with open(result_path + ".json", "w") as f:
    json.dump({"history": result["history"], "run_dir": result["run_dir"],
               "resumed_from_step": result["resumed_from_step"]}, f)
"""


def _child(output_dir, resume, block_at, result_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    args = [sys.executable, "-c", CHILD, str(output_dir), resume]
    log = open(f"{result_path}.{resume}.{block_at}.log", "w+")  # not a pipe
    process = subprocess.Popen(
        [*args, str(block_at), str(result_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    process.log = log
    return process


def _log_tail(process):
    process.log.seek(0)
    text = process.log.read()[-3000:]
    process.log.close()
    return text


def _kill_when_blocked(process, output_dir, block_at, timeout=600):
    marker = os.path.join(output_dir, f"blocked-{block_at}")
    deadline = time.monotonic() + timeout
    while not os.path.exists(marker):
        if process.poll() is not None:
            raise AssertionError(f"child exited early: {_log_tail(process)}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("child did not reach the kill point")
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    process.log.close()


def _finish(process):
    process.wait(timeout=600)
    assert process.returncode == 0, _log_tail(process)
    process.log.close()


def _load(path):
    with np.load(path) as arrays:
        weights = {k: arrays[k] for k in arrays.files}
    with open(f"{path}.json") as f:
        return weights, json.load(f)


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted_run(tmp_path):
    full_dir, killed_dir = tmp_path / "full", tmp_path / "killed"
    full_dir.mkdir()
    killed_dir.mkdir()
    # The uninterrupted run goes alongside the interrupted one.
    reference = _child(full_dir, "new", -1, tmp_path / "full.npz")
    checkpoints = []
    process = _child(killed_dir, "new", KILL_AT[0], tmp_path / "unused.npz")
    for i, block_at in enumerate(KILL_AT):
        _kill_when_blocked(process, killed_dir, block_at)
        (run_dir,) = [p for p in killed_dir.iterdir() if p.is_dir()]
        assert not (run_dir / "metrics.json").exists()
        state = json.loads((run_dir / "checkpoint" / "state.json").read_text())
        checkpoints.append((state["step"], state["epoch"], state["batch"]))
        next_block = KILL_AT[i + 1] if i + 1 < len(KILL_AT) else -1
        process = _child(killed_dir, "resume", next_block, tmp_path / "resumed.npz")
    _finish(process)
    _finish(reference)
    # Killed in the middle of epochs 1, 2 and 3: resumed mid-epoch each time.
    assert checkpoints == [(3, 0, 3), (12, 1, 4), (18, 2, 2)]
    expected, expected_info = _load(tmp_path / "full.npz")
    resumed, info = _load(tmp_path / "resumed.npz")
    assert info["resumed_from_step"] == 18
    assert info["run_dir"] == str(run_dir)
    assert sorted(resumed) == sorted(expected)
    for key in expected:  # exact: no tolerance
        np.testing.assert_array_equal(resumed[key], expected[key], err_msg=key)
    assert info["history"] == expected_info["history"]
    assert len(info["history"]["loss"]) == 3
    # Finished: results written, checkpoint gone, no temporary files.
    assert not (run_dir / "checkpoint").exists()
    names = os.listdir(run_dir)
    assert {"model.keras", "encoder.keras", "config.json", "metrics.json"} <= set(names)
    assert not [n for n in names if ".tmp-" in n]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["steps"] == 24
    assert metrics["resumed_from_step"] == 18


# In-process resume of a copy taken mid-epoch --------------------------------


class CopyRunAt(keras.callbacks.Callback):
    """Copies the run directory once `at` steps are done (a crash there
    would leave exactly these files)."""

    def __init__(self, destination, at):
        super().__init__()
        self.destination, self.at = destination, at
        self.run_dir = None

    def on_train_batch_begin(self, batch, logs=None):
        if int(self.model.optimizer.iterations) == self.at:
            shutil.copytree(self.run_dir, self.destination)


def _pretrain_and_resume_copy(tmp_path, method, data, copy_at, **kwargs):
    destination = tmp_path / "copy" / "run"
    copier = CopyRunAt(destination, copy_at)
    args = dict(
        method=method,
        dataset=data,
        batch_size=8,
        seed=0,
        verbose=0,
        checkpoint_every=3,
        **kwargs,
    )
    # The run directory is known only once `pretrain` makes it: find it
    # when training begins.
    output_dir = tmp_path / "runs"

    class FindRunDir(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            (copier.run_dir,) = list(output_dir.iterdir())

    full = pretrain(
        output_dir=str(output_dir), callbacks=[FindRunDir(), copier], **args
    )
    state = json.loads((destination / "checkpoint" / "state.json").read_text())
    assert not (destination / "metrics.json").exists()
    resumed = pretrain(output_dir=str(tmp_path / "copy"), resume=True, **args)
    assert resumed["run_dir"] == str(destination)
    assert resumed["resumed_from_step"] == state["step"]
    return full, resumed, state


def _assert_same_run(full, resumed):
    for a, b in zip(full["model"].weights, resumed["model"].weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    optimizers = (
        full["model"].optimizer.variables,
        resumed["model"].optimizer.variables,
    )
    for a, b in zip(*optimizers, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    assert resumed["history"] == full["history"]
    assert resumed["steps"] == full["steps"]


def _images(n=32):
    return from_arrays(
        np.random.default_rng(0).integers(0, 256, (n, 8, 8, 1), dtype=np.uint8)
    )


@pytest.mark.slow
def test_moco_resumes_exactly_with_ema_target_and_queue(tmp_path):
    full, resumed, state = _pretrain_and_resume_copy(
        tmp_path,
        "moco",
        _images(),
        copy_at=7,  # checkpoint at step 6: epoch 2, step 2 of 4
        epochs=2,
        model_kwargs={
            "widths": (4, 8),
            "projection_dim": 4,
            "projection_hidden_dims": (8,),
            "queue_size": 16,
        },
    )
    assert (state["step"], state["epoch"], state["batch"]) == (6, 1, 2)
    _assert_same_run(full, resumed)
    paths = [v.path for v in resumed["model"].non_trainable_variables]
    assert any("queue" in p for p in paths)  # the queue is part of the weights


@pytest.mark.slow
def test_masked_language_model_resumes_exactly(tmp_path):
    words = "a cat sat on the mat dog ran in park birds fly over sea sky tree".split()
    rng = np.random.default_rng(0)
    texts = np.array([" ".join(rng.choice(words, 6)) for _ in range(32)], object)
    full, resumed, state = _pretrain_and_resume_copy(
        tmp_path,
        "mlm",
        from_arrays(texts),
        copy_at=7,
        epochs=2,
        model_kwargs={
            "sequence_length": 8,
            "vocabulary_size": 40,
            "hidden_dim": 8,
            "num_layers": 1,
            "num_heads": 2,
            "intermediate_dim": 16,
        },
    )
    assert (state["step"], state["epoch"], state["batch"]) == (6, 1, 2)
    _assert_same_run(full, resumed)
    vocabulary = os.path.join(resumed["run_dir"], "vocabulary.txt")
    assert (
        open(vocabulary).read()
        == open(os.path.join(full["run_dir"], "vocabulary.txt")).read()
    )


@pytest.mark.slow
def test_deepcluster_resumes_exactly_mid_epoch(tmp_path):
    full, resumed, state = _pretrain_and_resume_copy(
        tmp_path,
        "deepcluster",
        _images(),
        copy_at=7,  # checkpoint at step 6; k-means again at epoch 3's start
        epochs=3,
        model_kwargs={"widths": (4, 8), "num_clusters": 4},
    )
    assert (state["step"], state["epoch"], state["batch"]) == (6, 1, 2)
    _assert_same_run(full, resumed)


# Finetune -----------------------------------------------------------------


class CrashAtEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt("simulated crash")


def _labelled_images(n=48):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (n, 8, 8, 1), dtype=np.uint8)
    return from_arrays(x, y=np.arange(n) % 2)


def _ssl_model():
    from keras_ssl.encoders import conv_encoder

    keras.utils.set_random_seed(0)
    return SimCLR(conv_encoder((8, 8, 1), widths=(4, 8)), seed=0)


@pytest.mark.slow
def test_finetune_resumes_from_the_last_completed_epoch(tmp_path):
    args = dict(
        dataset=_labelled_images(),
        epochs=3,
        batch_size=8,
        validation_split=None,
        seed=0,
        verbose=0,
    )
    runs = tmp_path / "runs"
    with pytest.raises(KeyboardInterrupt):
        finetune(
            _ssl_model(), output_dir=str(runs), callbacks=[CrashAtEpoch(2)], **args
        )
    (run_dir,) = runs.iterdir()
    assert not (run_dir / "metrics.json").exists()
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    assert (state["epoch"], state["batch"]) == (2, 0)
    resumed = finetune(_ssl_model(), output_dir=str(runs), resume=True, **args)
    assert resumed["run_dir"] == str(run_dir)
    assert resumed["resumed_from_epoch"] == 2
    assert resumed["epochs_run"] == 3
    # The history holds the two epochs before the crash, then the third.
    for key in ("loss", "accuracy"):
        assert resumed["history"][key][:2] == state["history"][key]
        assert len(resumed["history"][key]) == 3
    # Only the third epoch ran again: the optimizer continued its count.
    steps = 3 * (resumed["num_train"] // 8)
    assert int(resumed["model"].classifier.optimizer.iterations) == steps
    assert os.path.isfile(resumed["model_path"])
    assert not (run_dir / "checkpoint").exists()
    assert 0.0 <= resumed["accuracy"] <= 1.0
    with pytest.raises(ValueError, match="is finished"):
        finetune(_ssl_model(), output_dir=str(runs), resume=str(run_dir), **args)


# Errors -------------------------------------------------------------------


TINY = {"widths": (4, 8), "projection_dim": 4, "projection_hidden_dims": (8,)}


def _fake_run(tmp_path, config, checkpoint=True, finished=False):
    run_dir = tmp_path / "runs" / f"{config['method']}-20250101-000000"
    (run_dir / "checkpoint").mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps(config))
    if checkpoint:
        (run_dir / "checkpoint" / "state.json").write_text("{}")
    if finished:
        (run_dir / "metrics.json").write_text("{}")
    return run_dir


def test_resume_true_without_an_unfinished_run_names_output_dir(tmp_path):
    _fake_run(tmp_path, {"method": "simclr"}, finished=True)
    _fake_run(tmp_path, {"method": "byol"})
    with pytest.raises(ValueError, match="no unfinished simclr run") as info:
        pretrain("simclr", _images(), output_dir=str(tmp_path / "runs"), resume=True)
    assert str(tmp_path / "runs") in str(info.value)


def test_resuming_a_finished_run_is_an_error(tmp_path):
    run_dir = _fake_run(tmp_path, {"method": "simclr"}, finished=True)
    with pytest.raises(ValueError, match="is finished"):
        pretrain("simclr", _images(), resume=str(run_dir))


def test_resume_needs_a_checkpoint(tmp_path):
    run_dir = _fake_run(tmp_path, {"method": "simclr"}, checkpoint=False)
    with pytest.raises(ValueError, match="holding a checkpoint"):
        pretrain("simclr", _images(), resume=str(run_dir))
    with pytest.raises(ValueError, match="holding a config.json"):
        pretrain("simclr", _images(), resume=str(tmp_path))


def test_resume_checks_method_and_dataset(tmp_path):
    data = _images()
    run_dir = _fake_run(tmp_path, {"method": "simclr", "dataset": str(data)})
    with pytest.raises(ValueError, match="not a byol run"):
        pretrain("byol", data, resume=str(run_dir))
    with pytest.raises(ValueError, match=r"differ .* in \['dataset'\]"):
        pretrain("simclr", _images(16), resume=str(run_dir))


def test_resume_names_every_differing_setting(tmp_path):
    data = _images()
    run_dir = _fake_run(tmp_path, {"method": "simclr", "dataset": str(data)})
    with pytest.raises(ValueError, match="config.json in") as info:
        pretrain(
            "simclr",
            data,
            resume=str(run_dir),
            epochs=2,
            batch_size=8,
            verbose=0,
            model_kwargs=TINY,
        )
    message = str(info.value)
    for key in ("'epochs'", "'batch_size'", "'model_kwargs'", "'seed'"):
        assert key in message
    assert "'method'" not in message and "'dataset'" not in message


@pytest.mark.parametrize("value", [0, -3, 2.5, True])
def test_bad_checkpoint_every(tmp_path, value):
    with pytest.raises(ValueError, match="Argument `checkpoint_every` must be"):
        pretrain("simclr", _images(), output_dir=str(tmp_path), checkpoint_every=value)


def test_bad_resume_value(tmp_path):
    with pytest.raises(ValueError, match="Argument `resume` must be"):
        pretrain("simclr", _images(), output_dir=str(tmp_path), resume=3)
