"""Stops training at the first NaN or Inf loss and says where it happened."""

import json
import logging
import math
import numbers
import os

import keras

from keras_ssl.callbacks.non_finite_loss_error import NonFiniteLossError

logger = logging.getLogger("keras_ssl")

# Keys of a checkpoint's JSON record that may hold its completed step.
_STEP_KEYS = ("step", "global_step", "completed_step", "completed_steps", "iterations")


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _recorded_step(folder):
    """The step recorded in the first `*.json` file of `folder` that has one."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return None
    for name in names:
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                record = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(record, dict):
            for key in _STEP_KEYS:
                if _is_int(record.get(key)):
                    return int(record[key])
    return None


def _from_path(path):
    """`(path, step)` for an existing checkpoint folder or file, else `(None,)*2`."""
    path = os.fspath(path)
    if os.path.isdir(path):
        try:
            empty = not os.listdir(path)
        except OSError:
            empty = True
        return (None, None) if empty else (path, _recorded_step(path))
    if os.path.isfile(path):
        return path, None
    return None, None


def _format_value(value):
    return repr(float(value))  # "nan", "inf", "-inf"


class NonFiniteGuard(keras.callbacks.Callback):
    """Stops training at the first non-finite loss and reports where.

    After every training batch the guard reads `logs["loss"]` (and, with
    `check_metrics=True`, every numeric entry of the logs). At the first NaN
    or Inf it sets `model.stop_training = True`, logs an error such as

    `Non-finite loss (nan) at step 1234 (epoch 3, batch 12); last good
    checkpoint: runs/simclr-.../checkpoint (step 1200).`

    and, at the end of `fit`, raises `NonFiniteLossError` with the same
    message (unless `raise_error=False`), so that code after `fit` (saving,
    export) does not treat a diverged model as a result.

    The step is the global training step: `optimizer.iterations` when `fit`
    starts plus the steps run since, so a resumed run counts on from its
    checkpoint; epoch and batch are 1-based, as the progress bar shows them.
    The batch logs of a Keras 3 model hold running means over the epoch, not
    the last batch's value, but a NaN or Inf in a running mean stays there
    for the rest of the epoch and appears exactly at the step that produced
    it, so the first non-finite mean names the first non-finite step. When
    the model runs several steps per execution (`steps_per_execution > 1`)
    the logs arrive once per execution; the report then gives the range of
    steps that may hold it.

    The checkpoint is looked up when a non-finite value appears and again
    when `fit` ends (for the raised error). A checkpoint recorded at or
    after the first non-finite step is not called good. The weights of the
    step that produced the non-finite value may already be damaged:
    `model.stop_training` ends `fit` after that batch, but epoch-end
    callbacks (a checkpoint callback among them) still run once and should
    not save non-finite weights. The error is raised from the guard's
    `on_train_end`, so callbacks listed after it (and Keras' own History
    and progress bar, which need nothing there) do not reach their
    `on_train_end`: put the guard last in the callback list so that
    TensorBoard and the others close their files first.

    Args:
        checkpoint: where the last good checkpoint is, looked up when a
            non-finite value appears. `None` (report "none"); a folder, such
            as the `<run_dir>/checkpoint` of `RunCheckpoint` (reported if it
            exists and is not empty, with the step found under one of the
            keys `step`, `global_step`, `completed_step`, `completed_steps`
            or `iterations` of a top-level `*.json` file in it, e.g.
            `RunCheckpoint`'s `state.json`); a file path; or a callable
            with no arguments returning `None`, a path, or a `(path, step)`
            pair.
        check_metrics: also stop on a non-finite metric (every numeric
            entry of the batch logs), not only the loss.
        raise_error: raise `NonFiniteLossError` at the end of `fit`. With
            `False` the guard only stops training and logs the error; the
            report is then in `guard.error`.

    Attributes:
        error: the `NonFiniteLossError` describing the first non-finite
            value of the last `fit`, or `None`.

    Example:

    >>> run_dir = os.path.join("runs", "simclr-20250101-120000")
    >>> guard = NonFiniteGuard(checkpoint=os.path.join(run_dir, "checkpoint"))
    >>> model.fit(data, epochs=10, callbacks=[guard])  # doctest: +SKIP
    """

    def __init__(self, checkpoint=None, check_metrics=False, raise_error=True):
        super().__init__()
        if not (
            checkpoint is None
            or isinstance(checkpoint, str | os.PathLike)
            or callable(checkpoint)
        ):
            raise ValueError(
                "Argument `checkpoint` must be None, a path or a callable "
                "returning a path or a (path, step) pair. "
                f"Received: checkpoint={checkpoint!r}"
            )
        for name, value in (
            ("check_metrics", check_metrics),
            ("raise_error", raise_error),
        ):
            if not isinstance(value, bool):
                raise ValueError(
                    f"Argument `{name}` must be True or False. "
                    f"Received: {name}={value!r}"
                )
        self.checkpoint = checkpoint
        self.check_metrics = check_metrics
        self.raise_error = raise_error
        self.error = None
        self._reset(0)

    def _reset(self, initial_step):
        self.error = None
        self._failure = None
        self._initial_step = initial_step
        self._steps_run = 0
        self._epoch = 0
        self._begin_batch = None

    # Callback hooks ---------------------------------------------------------

    def on_train_begin(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        iterations = getattr(optimizer, "iterations", None)
        initial = 0
        if iterations is not None:
            initial = int(keras.ops.convert_to_numpy(iterations))
        self._reset(initial)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self._begin_batch = batch

    def on_train_batch_end(self, batch, logs=None):
        begin = batch if self._begin_batch is None else self._begin_batch
        self._begin_batch = None
        executed = max(batch - begin + 1, 1)
        self._steps_run += executed
        if self.error is not None:
            return
        bad = self._non_finite(logs or {})
        if not bad:
            return
        step = self._initial_step + self._steps_run
        self._failure = (bad, step, executed, batch, self._epoch + 1)
        self.error = self._make_error(*self._failure)
        self.model.stop_training = True
        logger.error("%s", self.error)

    def on_train_end(self, logs=None):
        if self.error is None:
            return
        # Callbacks may have written a checkpoint since (an epoch-end save
        # of the stopped epoch): look it up again for the final report.
        self.error = self._make_error(*self._failure)
        if self.raise_error:
            raise self.error

    # Helpers ----------------------------------------------------------------

    def _non_finite(self, logs):
        if "loss" not in logs:
            raise ValueError(
                "NonFiniteGuard needs `loss` in the batch logs, but the model "
                f"reported only {sorted(logs)}. Compile the model with a loss "
                "(SSL models report `loss` themselves)."
            )
        if self.check_metrics:
            names = ["loss", *sorted(k for k in logs if k != "loss")]
        else:
            names = ["loss"]
        bad = {}
        for name in names:
            value = logs[name]
            if isinstance(value, numbers.Real) and not math.isfinite(value):
                bad[name] = float(value)
        return bad

    def _make_error(self, bad, step, executed, batch, epoch):
        first_step = step - executed + 1
        what = ", ".join(f"{name} ({_format_value(v)})" for name, v in bad.items())
        if "loss" not in bad:
            what = f"metric {what}"
        if executed == 1:
            where = f"at step {step} (epoch {epoch}, batch {batch + 1})"
        else:
            where = (
                f"at one of steps {first_step}-{step} (epoch {epoch}, batches "
                f"{batch - executed + 2}-{batch + 1}; the logs arrive once per "
                f"{executed} steps)"
            )
        path, checkpoint_step, described = self._describe_checkpoint(first_step)
        message = (
            f"Non-finite {what} {where}; last good checkpoint: {described}. "
            "Training was stopped. Lower the learning rate or add warm-up or "
            "gradient clipping, or check the input data for NaN/Inf."
        )
        return NonFiniteLossError(
            message,
            step=step,
            first_step=first_step,
            epoch=epoch,
            batch=batch + 1,
            values=bad,
            checkpoint=path,
            checkpoint_step=checkpoint_step,
        )

    def _resolve_checkpoint(self):
        """`(path, step)` of the latest checkpoint; `(None, None)` if none."""
        found = self.checkpoint
        if callable(found):
            found = found()
        if found is None:
            return None, None
        if isinstance(found, tuple | list):
            if len(found) != 2:
                raise ValueError(
                    "The `checkpoint` callable must return None, a path or a "
                    f"(path, step) pair. Received: {found!r}"
                )
            path, step = found
            if path is None:
                return None, None
            return os.fspath(path), (int(step) if _is_int(step) else None)
        return _from_path(found)

    def _describe_checkpoint(self, first_step):
        """`(path, step, text)` of the last good checkpoint for the report."""
        try:
            path, step = self._resolve_checkpoint()
        except Exception as e:  # the report must not hide the divergence
            return None, None, f"unknown (looking it up failed: {e!r})"
        if path is None:
            return None, None, "none"
        if step is None:
            return path, None, f"{path} (step unknown)"
        if step >= first_step:
            return (
                None,
                None,
                f"none (the latest, {path}, is from step {step}, at or after "
                "the non-finite step)",
            )
        return path, step, f"{path} (step {step})"
