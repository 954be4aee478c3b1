import json
import logging
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_ssl.callbacks
from keras_ssl.callbacks import NonFiniteGuard, NonFiniteLossError

BATCH = 2


def make_data(nan_batch=None, num_batches=20, nan_target=False):
    """`num_batches` batches of a linear regression, NaN in batch `nan_batch`."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(num_batches * BATCH, 2)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    if nan_batch is not None:
        (y if nan_target else x)[nan_batch * BATCH] = np.nan
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)


def make_model(steps_per_execution=1, metrics=None):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(
        optimizer=keras.optimizers.SGD(0.01),
        loss="mse",
        metrics=metrics,
        steps_per_execution=steps_per_execution,
    )
    return model


def fit(model, data, guard, epochs=5, steps_per_epoch=4, extra=()):
    return model.fit(
        data,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        callbacks=[*extra, guard],
        verbose=0,
        shuffle=False,
    )


def drive(guard, logs, batch=0, epoch=0, initial_step=0):
    """Runs the guard's hooks for one batch outside `fit` (fast)."""
    model = make_model()
    model.optimizer.iterations.assign(initial_step)
    guard.set_model(model)
    guard.on_train_begin()
    guard.on_epoch_begin(epoch)
    guard.on_train_batch_begin(batch)
    guard.on_train_batch_end(batch, logs)
    return guard


def test_stops_at_the_first_nan_step_and_raises_at_train_end():
    # The running-mean loss of the logs turns NaN exactly at batch 9 (0-based),
    # which is global step 10: epoch 3 (steps 9-12), its batch 2.
    model = make_model()
    guard = NonFiniteGuard()
    with pytest.raises(NonFiniteLossError) as info:
        fit(model, make_data(nan_batch=9), guard)
    error = info.value
    assert "Non-finite loss (nan) at step 10 (epoch 3, batch 2)" in str(error)
    assert "last good checkpoint: none" in str(error)
    assert (error.step, error.first_step, error.epoch, error.batch) == (10, 10, 3, 2)
    assert math.isnan(error.values["loss"])
    assert guard.error is error
    # Training stopped right after the bad step.
    assert int(model.optimizer.iterations) == 10
    assert model.stop_training


def test_finite_training_runs_to_the_end():
    model = make_model()
    guard = NonFiniteGuard()
    history = fit(model, make_data(), guard)
    assert guard.error is None
    assert len(history.history["loss"]) == 5
    assert int(model.optimizer.iterations) == 20


def test_step_counts_on_from_the_optimizer_in_a_resumed_run():
    model = make_model()
    fit(model, make_data(), NonFiniteGuard(), epochs=1, steps_per_epoch=5)
    assert int(model.optimizer.iterations) == 5
    # Batch 2 of the second fit is global step 5 + 3 = 8.
    with pytest.raises(NonFiniteLossError, match=r"at step 8 \(epoch 1, batch 3\)"):
        fit(model, make_data(nan_batch=2), NonFiniteGuard(), epochs=2)


def test_steps_per_execution_reports_the_window_of_steps():
    # Logs arrive after steps 2, 4, 6, ...: a NaN at step 5 shows after step 6.
    model = make_model(steps_per_execution=2)
    with pytest.raises(NonFiniteLossError) as info:
        fit(model, make_data(nan_batch=4), NonFiniteGuard())
    error = info.value
    assert (error.first_step, error.step) == (5, 6)
    assert "at one of steps 5-6 (epoch 2, batches 1-2" in str(error)


def test_raise_error_false_only_stops_and_logs(caplog):
    model = make_model()
    guard = NonFiniteGuard(raise_error=False)
    with caplog.at_level(logging.ERROR, logger="keras_ssl"):
        history = fit(model, make_data(nan_target=True, nan_batch=1), guard)
    assert len(history.history["loss"]) == 1
    assert guard.error.step == 2
    assert "Non-finite loss (nan) at step 2 (epoch 1, batch 2)" in caplog.text


def test_non_finite_metric_is_caught_only_with_check_metrics():
    def log_abs_target(y_true, y_pred):
        return keras.ops.log(keras.ops.abs(y_true))  # -inf where the target is 0

    def data():
        x = np.ones((40, 2), "float32")
        y = np.ones((40, 1), "float32")
        y[3 * BATCH] = 0.0  # batch 3 (0-based): step 4
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)

    guard = NonFiniteGuard()
    history = fit(make_model(metrics=[log_abs_target]), data(), guard)
    assert guard.error is None and len(history.history["loss"]) == 5

    guard = NonFiniteGuard(check_metrics=True)
    with pytest.raises(NonFiniteLossError) as info:
        fit(make_model(metrics=[log_abs_target]), data(), guard)
    assert info.value.values == {"log_abs_target": -math.inf}
    assert "Non-finite metric log_abs_target (-inf) at step 4" in str(info.value)


def test_inf_loss_is_caught():
    guard = drive(NonFiniteGuard(), {"loss": math.inf}, batch=6, epoch=1)
    assert guard.model.stop_training
    assert "Non-finite loss (inf) at step 1 (epoch 2, batch 7)" in str(guard.error)


def test_a_guard_is_reset_by_the_next_fit():
    model = make_model()
    guard = NonFiniteGuard(raise_error=False)
    fit(model, make_data(nan_batch=0), guard, epochs=1)
    assert guard.error is not None
    fit(make_model(), make_data(), guard, epochs=1)
    assert guard.error is None


class TestCheckpointReport:
    def test_folder_with_a_recorded_step(self, tmp_path):
        folder = tmp_path / "checkpoint"
        folder.mkdir()
        (folder / "model.keras").write_bytes(b"")
        (folder / "state.json").write_text(json.dumps({"step": 1200}))
        guard = NonFiniteGuard(checkpoint=str(folder))
        drive(guard, {"loss": math.nan}, batch=11, epoch=2, initial_step=1233)
        assert "at step 1234 (epoch 3, batch 12)" in str(guard.error)
        assert f"last good checkpoint: {folder} (step 1200)" in str(guard.error)
        assert guard.error.checkpoint == str(folder)
        assert guard.error.checkpoint_step == 1200

    def test_missing_or_empty_folder_is_none(self, tmp_path):
        for folder in (tmp_path / "missing", tmp_path):
            guard = drive(NonFiniteGuard(checkpoint=folder), {"loss": math.nan})
            assert "last good checkpoint: none." in str(guard.error)
            assert guard.error.checkpoint is None

    def test_folder_without_a_step_record(self, tmp_path):
        (tmp_path / "model.keras").write_bytes(b"")
        guard = drive(NonFiniteGuard(checkpoint=tmp_path), {"loss": math.nan})
        assert f"last good checkpoint: {tmp_path} (step unknown)" in str(guard.error)

    def test_callable_returning_path_and_step(self, tmp_path):
        guard = NonFiniteGuard(checkpoint=lambda: ("ckpt/step-3", 0))
        drive(guard, {"loss": math.nan})
        assert "last good checkpoint: ckpt/step-3 (step 0)" in str(guard.error)
        guard = drive(NonFiniteGuard(checkpoint=lambda: None), {"loss": math.nan})
        assert "last good checkpoint: none." in str(guard.error)

    def test_checkpoint_from_the_bad_step_is_not_good(self):
        guard = NonFiniteGuard(checkpoint=lambda: ("ckpt", 1))
        drive(guard, {"loss": math.nan})
        assert "last good checkpoint: none (the latest, ckpt, is from step 1" in str(
            guard.error
        )
        assert guard.error.checkpoint is None

    def test_a_failing_lookup_does_not_hide_the_report(self):
        def broken():
            raise OSError("disk gone")

        guard = drive(NonFiniteGuard(checkpoint=broken), {"loss": math.nan})
        assert "Non-finite loss (nan) at step 1" in str(guard.error)
        assert "last good checkpoint: unknown (looking it up failed" in str(guard.error)


def test_reports_the_step_recorded_by_run_checkpoint(tmp_path, caplog):
    run_checkpoint = getattr(keras_ssl.callbacks, "RunCheckpoint", None)
    if run_checkpoint is None:
        pytest.skip("keras_ssl.callbacks.RunCheckpoint is not available")
    folder = tmp_path / "checkpoint"
    checkpoint = run_checkpoint(str(folder), save_freq=4)
    guard = NonFiniteGuard(checkpoint=str(folder))
    with caplog.at_level(logging.ERROR, logger="keras_ssl"):
        with pytest.raises(NonFiniteLossError) as info:
            # NaN at step 10; the checkpoint last saved after step 8.
            fit(make_model(), make_data(nan_batch=9), guard, extra=[checkpoint])
    assert f"last good checkpoint: {folder} (step 8)" in caplog.text
    # Whatever the checkpoint wrote when the stopped epoch ended, the final
    # report never calls a checkpoint from the failed step good.
    error = info.value
    assert error.step == 10
    assert error.checkpoint_step is None or error.checkpoint_step < 10
    assert str(folder) in str(error)


def test_missing_loss_in_logs_raises():
    with pytest.raises(ValueError, match="needs `loss` in the batch logs"):
        drive(NonFiniteGuard(), {"accuracy": 0.5})


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"checkpoint": 3}, "checkpoint"),
        ({"check_metrics": "yes"}, "check_metrics"),
        ({"raise_error": 1}, "raise_error"),
    ],
)
def test_bad_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=f"Argument `{name}`.*Received: {name}="):
        NonFiniteGuard(**kwargs)
