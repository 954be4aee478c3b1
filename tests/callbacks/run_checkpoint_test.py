"""`RunCheckpoint` and `fit_resumable` on a tiny regression model (fast).

The SSL pretraining workflows are tested end to end (SIGKILL, EMA, queues,
text, DeepCluster) in tests/workflows/resume_test.py.
"""

import json
import os
import random

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.app.resume import fit_resumable
from keras_ssl.callbacks import RunCheckpoint

STEPS, EPOCHS = 4, 3
X = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
Y = (X @ np.array([[1.0], [-2.0], [0.5]], "float32")).astype("float32")


def make_dataset():
    return (
        tf.data.Dataset.from_tensor_slices((X, Y))
        .shuffle(32, seed=1)
        .batch(8, drop_remainder=True)
        .repeat()
    )


def build():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    hidden = keras.layers.Dropout(0.2, seed=3)(keras.layers.Dense(4)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    schedule = keras.optimizers.schedules.CosineDecay(0.05, STEPS * EPOCHS)
    # Eager: no tracing, so these tests take a second each.
    model.compile(
        optimizer=keras.optimizers.Adam(schedule), loss="mse", run_eagerly=True
    )
    model.build((None, 3))
    return model


class Crash(keras.callbacks.Callback):
    """Raises once `at` steps (counted by the optimizer) are done."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_train_batch_begin(self, batch, logs=None):
        if int(self.model.optimizer.iterations) == self.at:
            raise KeyboardInterrupt("simulated crash")


def values(variables):
    return [keras.ops.convert_to_numpy(v) for v in variables]


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    model = build()
    checkpoint = RunCheckpoint(tmp_path_factory.mktemp("full") / "ckpt", save_freq=3)
    history = fit_resumable(model, checkpoint, make_dataset, EPOCHS, STEPS, verbose=0)
    return model, history.history


@pytest.mark.parametrize("crash_at", [2, 3, 5, 7])
def test_fit_resumes_exactly(tmp_path, uninterrupted, crash_at):
    # Checkpoints every 3 steps and at epoch ends (4, 8, 12): a crash after
    # 2 steps leaves none, after 3 the one at 3 (mid-epoch 1), after 5 the
    # one at the end of epoch 1, after 7 the one at 6 (mid-epoch 2).
    directory = tmp_path / "ckpt"
    with pytest.raises(KeyboardInterrupt):
        fit_resumable(
            build(),
            RunCheckpoint(directory, save_freq=3),
            make_dataset,
            EPOCHS,
            STEPS,
            callbacks=[Crash(crash_at)],
            verbose=0,
        )
    checkpoint = RunCheckpoint(directory, save_freq=3)
    expected_step = {2: None, 3: 3, 5: 4, 7: 6}[crash_at]
    state = checkpoint.read_state()
    assert (state and state["step"]) == expected_step
    model = build()
    history = fit_resumable(model, checkpoint, make_dataset, EPOCHS, STEPS, verbose=0)
    reference, reference_history = uninterrupted
    assert checkpoint.resumed_from == expected_step
    assert int(model.optimizer.iterations) == STEPS * EPOCHS
    # Exact: same weights, optimizer slots and per-epoch losses (float32).
    assert_same(values(model.weights), values(reference.weights))
    assert_same(
        values(model.optimizer.variables), values(reference.optimizer.variables)
    )
    assert history.history == reference_history


def test_state_and_files(tmp_path):
    directory = tmp_path / "ckpt"
    checkpoint = RunCheckpoint(directory, save_freq=3)
    fit_resumable(build(), checkpoint, make_dataset, 1, STEPS, verbose=0)
    state = json.loads((directory / "state.json").read_text())
    assert (state["step"], state["epoch"], state["batch"]) == (4, 1, 0)
    assert state["optimizer_iterations"] == 4
    assert set(state["history"]) == {"loss"}
    # One weights file and one array file, named by state.json; no
    # temporaries left behind.
    assert sorted(os.listdir(directory)) == sorted(
        ["state.json", state["weights"], state["arrays"]]
    )
    checkpoint.delete()
    assert not directory.exists()


def test_restores_global_random_states_when_asked(tmp_path):
    checkpoint = RunCheckpoint(tmp_path / "ckpt")
    model = build()
    random.seed(5)
    np.random.seed(5)
    checkpoint.save(model)
    expected = (random.random(), np.random.random())
    random.seed(99)
    np.random.seed(99)
    assert RunCheckpoint(tmp_path / "ckpt", restore_global_random_state=True).restore(
        build()
    )
    assert (random.random(), np.random.random()) == expected


def test_leaves_global_random_states_alone_by_default(tmp_path):
    random.seed(5)
    np.random.seed(5)
    RunCheckpoint(tmp_path / "ckpt").save(build())
    model = build()
    random.seed(99)
    np.random.seed(99)
    expected = (random.random(), np.random.random())
    random.seed(99)
    np.random.seed(99)
    assert RunCheckpoint(tmp_path / "ckpt").restore(model)
    assert (random.random(), np.random.random()) == expected


def test_plain_fit_continues_with_the_next_epoch(tmp_path):
    directory = tmp_path / "ckpt"
    data = make_dataset()
    with pytest.raises(KeyboardInterrupt):
        build().fit(
            data,
            epochs=EPOCHS,
            steps_per_epoch=STEPS,
            callbacks=[RunCheckpoint(directory, save_freq="epoch"), Crash(5)],
            verbose=0,
            shuffle=False,
        )
    model = build()
    history = model.fit(
        data,
        epochs=EPOCHS,
        steps_per_epoch=STEPS,
        callbacks=[RunCheckpoint(directory, save_freq="epoch")],
        verbose=0,
        shuffle=False,
    )
    assert history.epoch == [1, 2]  # the first epoch was complete at the crash
    assert int(model.optimizer.iterations) == STEPS * EPOCHS
    assert model._initial_epoch is None


def test_plain_fit_warns_on_a_mid_epoch_checkpoint(tmp_path):
    directory = tmp_path / "ckpt"
    with pytest.raises(KeyboardInterrupt):
        build().fit(
            make_dataset(),
            epochs=EPOCHS,
            steps_per_epoch=STEPS,
            callbacks=[RunCheckpoint(directory, save_freq=3), Crash(3)],
            verbose=0,
            shuffle=False,
        )
    with pytest.warns(UserWarning, match="RunCheckpoint.fit"):
        build().fit(
            make_dataset(),
            epochs=1,
            steps_per_epoch=STEPS,
            callbacks=[RunCheckpoint(directory, save_freq=3)],
            verbose=0,
            shuffle=False,
        )


def test_extra_variables_round_trip(tmp_path):
    labels = tf.Variable([1, 2, 3])
    checkpoint = RunCheckpoint(tmp_path / "ckpt", extra_variables=[labels])
    checkpoint.save(build())
    labels.assign([0, 0, 0])
    RunCheckpoint(tmp_path / "ckpt", extra_variables=[labels]).restore(build())
    assert labels.numpy().tolist() == [1, 2, 3]


def test_no_checkpoint_restores_nothing(tmp_path):
    checkpoint = RunCheckpoint(tmp_path / "missing")
    assert not checkpoint.exists()
    assert checkpoint.restore(build()) is False
    assert checkpoint.resumed_from is None


@pytest.mark.parametrize("save_freq", [0, -1, 1.5, True, "steps"])
def test_bad_save_freq(tmp_path, save_freq):
    with pytest.raises(ValueError, match="Argument `save_freq` must be"):
        RunCheckpoint(tmp_path, save_freq=save_freq)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="Argument `directory` must be"):
        RunCheckpoint("")
    with pytest.raises(ValueError, match="Argument `restore_global_random_state`"):
        RunCheckpoint(tmp_path / "ckpt", restore_global_random_state=1)
    checkpoint = RunCheckpoint(tmp_path / "ckpt")
    with pytest.raises(ValueError, match="Argument `checkpoint` must be"):
        fit_resumable(build(), str(tmp_path / "ckpt"), make_dataset, 1, STEPS)
    with pytest.raises(ValueError, match="Argument `dataset` must be"):
        fit_resumable(build(), checkpoint, X, 1, STEPS)
    with pytest.raises(ValueError, match="Argument `steps_per_epoch` must be"):
        fit_resumable(build(), checkpoint, make_dataset, 1, 0)
    with pytest.raises(ValueError, match="Argument `initial_epoch` is set by"):
        fit_resumable(build(), checkpoint, make_dataset, 1, STEPS, initial_epoch=1)


def test_never_checkpoints_a_non_finite_loss(tmp_path):
    model = build()
    checkpoint = RunCheckpoint(tmp_path / "ckpt", save_freq=1)
    checkpoint.set_model(model)
    checkpoint.set_params({"steps": 10, "epochs": 1})
    checkpoint.on_train_begin()
    checkpoint.on_epoch_begin(0)
    checkpoint.on_train_batch_end(0, {"loss": 1.5})
    assert checkpoint.read_state()["step"] == 1
    with pytest.warns(UserWarning, match="Non-finite loss at step 2"):
        checkpoint.on_train_batch_end(1, {"loss": float("nan")})
    checkpoint.on_train_batch_end(2, {"loss": float("inf")})
    assert checkpoint.read_state()["step"] == 1  # the last good one


class StopAt(keras.callbacks.Callback):
    """Stops `fit` (like a time budget) once `at` steps are done."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations) == self.at:
            self.model.stop_training = True


def test_early_stop_checkpoints_inside_the_epoch(tmp_path, uninterrupted):
    # A time budget ends `fit` after 6 steps, in the middle of epoch 2; the
    # checkpoint stays there, and a later `fit` finishes the run exactly.
    directory = tmp_path / "ckpt"
    history = fit_resumable(
        build(),
        RunCheckpoint(directory, save_freq=None),
        make_dataset,
        EPOCHS,
        STEPS,
        callbacks=[StopAt(6)],
        verbose=0,
    )
    assert len(history.history["loss"]) == 2  # one complete epoch, one partial
    state = json.loads((directory / "state.json").read_text())
    assert (state["step"], state["epoch"], state["batch"]) == (6, 1, 2)
    model = build()
    history = fit_resumable(
        model, RunCheckpoint(directory), make_dataset, EPOCHS, STEPS, verbose=0
    )
    reference, reference_history = uninterrupted
    assert_same(values(model.weights), values(reference.weights))
    assert history.history == reference_history


def test_deprecated_fit_warns_and_resumes_exactly(tmp_path, uninterrupted):
    directory = tmp_path / "ckpt"
    with pytest.raises(KeyboardInterrupt):
        fit_resumable(
            build(),
            RunCheckpoint(directory, save_freq=3),
            make_dataset,
            EPOCHS,
            STEPS,
            callbacks=[Crash(7)],
            verbose=0,
        )
    model = build()
    checkpoint = RunCheckpoint(directory, save_freq=3)
    with pytest.warns(DeprecationWarning, match="fit_resumable"):
        history = checkpoint.fit(model, make_dataset, EPOCHS, STEPS, verbose=0)
    reference, reference_history = uninterrupted
    assert checkpoint.resumed_from == 6
    assert_same(values(model.weights), values(reference.weights))
    assert history.history == reference_history
