"""`RunCheckpoint`: atomic training checkpoints, restored on resume.

The driver that continues a run exactly (mid-epoch included) is
`keras_ssl.app.resume.fit_resumable`.
"""

import json
import os
import random
import time
import uuid
import warnings

import keras
import numpy as np

from keras_ssl.atomic_io import atomic_write, remove_temporaries
from keras_ssl.checks import check_bool
from keras_ssl.compat import set_initial_epoch

_STATE = "state.json"
_PREFIX = "ckpt-"
_FORMAT = 1


def _is_seed_state(variable):
    return variable.path.endswith("seed_generator_state")


def _to_float(value):
    try:
        return float(keras.ops.convert_to_numpy(value))
    except (TypeError, ValueError):
        return None


def _diverged(logs):
    loss = _to_float((logs or {}).get("loss", 0.0))
    return loss is not None and not np.isfinite(loss)


class RunCheckpoint(keras.callbacks.Callback):
    """Checkpoints training every `save_freq` steps and at each epoch end.

    A checkpoint holds everything a run needs to continue as if it had never
    stopped: the model's weights, the optimizer's variables (`iterations`
    included, hence the position of a learning-rate schedule and of EMA
    momentum schedules), every non-trainable variable (EMA target networks,
    MoCo queues, batch-norm statistics), the state of every
    `keras.random.SeedGenerator` (augmentations, masks, dropout,
    DeepCluster's head re-initialisation), the metric accumulators of the
    current epoch, any `extra_variables` (DeepCluster's pseudo-labels), the
    position (global step, epoch, batch within the epoch) and the per-epoch
    history. It also records Python's and NumPy's global random states, but
    restores them only when asked (`restore_global_random_state=True`):
    keras_ssl's own randomness lives in seeded generators, and a callback
    should not overwrite the caller's global generators.

    Every write is atomic: the weights (`ckpt-<step>-<id>.weights.h5`) and
    the other arrays (`ckpt-<step>-<id>.npz`) go to new files, each written
    to a hidden temporary file and renamed; then `state.json`, which names
    them, is replaced in one rename; only then are older files deleted. A
    kill at any moment leaves `state.json` pointing at a complete checkpoint.
    No checkpoint is written while the logged `loss` is NaN or infinite, so
    a diverged run keeps its last good one.

    Why not `keras.callbacks.BackupAndRestore`: with an integer `save_freq`
    it saves mid-epoch weights but restores only the epoch number, so a
    resumed run repeats the first batches of the interrupted epoch (with the
    optimizer already past them) and replays the input pipeline from its
    start; it does not save Keras metric accumulators, random generator
    states or variables outside the model; and it overwrites its one
    weights file in place (`double_checkpoint` copies, it does not rename),
    so a kill during the write can leave a truncated file.

    Exact resume, mid-epoch included, is the job of a driver that calls
    `model.fit` with this callback: `keras_ssl.app.resume.fit_resumable`
    restores the checkpoint, skips the batches already trained on and
    finishes the interrupted epoch. With a plain
    `model.fit(data, epochs=10, callbacks=[checkpoint])` the callback
    restores the last checkpoint when training begins and continues with
    its epoch, like `BackupAndRestore`: weights, optimizer and random
    generator states continue exactly, but `fit` restarts the input pipeline
    and an interrupted epoch from its first batch (a warning says so);
    prefer `fit_resumable`, or `save_freq="epoch"` and
    `model.fit(make_dataset().skip(checkpoint.step),
    initial_epoch=checkpoint.epoch, ...)` after `checkpoint.restore(model)`.

    Example:

    ```python
    checkpoint = RunCheckpoint("runs/my-run/checkpoint", save_freq="epoch")
    checkpoint.restore(model)  # False (nothing changed) for a new run
    model.fit(make_dataset().skip(checkpoint.step),
              initial_epoch=checkpoint.epoch, epochs=10, steps_per_epoch=200,
              callbacks=[checkpoint])
    model.save("model.keras")
    checkpoint.delete()  # optional, once the results are saved
    ```

    Args:
        directory: folder of the checkpoint (created when first saved; the
            callback owns it: do not put other files there).
        save_freq: save every `save_freq` training steps (global steps, so
            the same steps before and after a resume), and at every epoch
            end; `"epoch"` or `None` to save at epoch ends only.
        extra_variables: variables outside the model to save and restore
            (e.g. `reclustering.labels` of `DeepCluster.make_training_data`).
        restore_global_random_state: also set Python's `random` and NumPy's
            global generator to their checkpointed states in `restore`
            (default `False`: they are left as they are). Only for code
            outside keras_ssl that draws from those global generators
            during training and needs them to continue exactly.

    Attributes:
        step: training steps completed (global, across resumes).
        epoch: epochs completed.
        batch: steps completed in the current epoch.
        history: `{metric: [value per completed epoch]}`.
        seconds: training wall time, across resumes (as of the last save
            or the end of `fit`).
        resumed_from: the `step` of the checkpoint restored, or `None`.
        resumed_from_epoch: its `epoch` (epochs completed), or `None`.
        partial_logs: the logs of the last epoch when a callback stopped
            `fit` before its end (the checkpoint stays inside that epoch),
            else `None`; reset when training begins.
    """

    def __init__(
        self,
        directory,
        save_freq=100,
        extra_variables=(),
        restore_global_random_state=False,
    ):
        super().__init__()
        if not isinstance(directory, str | os.PathLike) or not os.fspath(directory):
            raise ValueError(
                "Argument `directory` must be a non-empty path. "
                f"Received: directory={directory!r}"
            )
        if save_freq == "epoch":
            save_freq = None
        if save_freq is not None and (
            isinstance(save_freq, bool)
            or not isinstance(save_freq, int | np.integer)
            or save_freq < 1
        ):
            raise ValueError(
                "Argument `save_freq` must be a positive int (steps), 'epoch' "
                f"or None. Received: save_freq={save_freq!r}"
            )
        self.directory = os.fspath(directory)
        self.save_freq = None if save_freq is None else int(save_freq)
        self.extra_variables = list(extra_variables)
        self.restore_global_random_state = check_bool(
            "restore_global_random_state", restore_global_random_state
        )
        self.step = 0
        self.epoch = 0
        self.batch = 0
        self.history = {}
        self.seconds = 0.0
        self.resumed_from = None
        self.resumed_from_epoch = None
        self.partial_logs = None
        self._restored = False
        self._pending_metrics = None
        self._last_keras_batch = -1
        self._session_start = None
        self._seconds_at_start = 0.0
        self._reset_initial_epoch = False
        self._warned_divergence = False

    @property
    def restored(self):
        """Whether `restore` has run (by hand, by a driver or at train begin)."""
        return self._restored

    # Files ----------------------------------------------------------------

    @staticmethod
    def state_path(directory):
        """Path of the `state.json` of a checkpoint folder."""
        return os.path.join(os.fspath(directory), _STATE)

    def exists(self):
        """Whether the folder holds a checkpoint."""
        return os.path.isfile(self.state_path(self.directory))

    def read_state(self):
        """The checkpoint's `state.json` as a dict, or `None`."""
        if not self.exists():
            return None
        with open(self.state_path(self.directory)) as f:
            return json.load(f)

    def delete(self):
        """Deletes the checkpoint folder (e.g. once the final model is saved)."""
        if not os.path.isdir(self.directory):
            return
        # state.json first: a kill midway leaves no state naming missing files.
        if self.exists():
            os.remove(self.state_path(self.directory))
        for entry in os.scandir(self.directory):
            if entry.is_file():
                os.remove(entry.path)
        try:
            os.rmdir(self.directory)
        except OSError:
            pass

    # Saving ---------------------------------------------------------------

    def _arrays(self, model):
        arrays = {}
        for i, v in enumerate(model.metrics_variables):
            arrays[f"metric_{i}"] = keras.ops.convert_to_numpy(v)
        seeds = [v for v in model.variables if _is_seed_state(v)]
        for i, v in enumerate(seeds):
            arrays[f"seed_{i}"] = keras.ops.convert_to_numpy(v)
        for i, v in enumerate(self.extra_variables):
            arrays[f"extra_{i}"] = keras.ops.convert_to_numpy(v)
        numpy_state = np.random.get_state()
        arrays["numpy_random_keys"] = numpy_state[1]
        python_state = random.getstate()
        arrays["python_random_internal"] = np.asarray(python_state[1], np.int64)
        return arrays, {
            "numpy_random": [numpy_state[0], *map(float, numpy_state[2:])],
            "python_random": [python_state[0], python_state[2]],
        }

    def save(self, model=None):
        """Writes a checkpoint of `model` (default: the model being fit).

        Under a multi-worker strategy only the chief writes (every worker
        restores from the same folder, on a shared file system).
        """
        model = model or self.model
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(model.trainable_variables)
        # Every worker reads the values: reading a metric's variable under a
        # multi-worker strategy is a collective all-reduce that all workers
        # must join, or the next collective pairs mismatched ops.
        arrays, random_states = self._arrays(model)
        strategy = getattr(model, "distribute_strategy", None)
        if strategy is not None and not strategy.extended.should_checkpoint:
            return
        os.makedirs(self.directory, exist_ok=True)
        tag = f"{_PREFIX}{self.step:09d}-{uuid.uuid4().hex[:8]}"
        weights = f"{tag}.weights.h5"
        extras = f"{tag}.npz"

        def write_arrays(tmp):
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)

        atomic_write(
            os.path.join(self.directory, weights),
            model.save_weights,
            suffix=".weights.h5",
        )
        atomic_write(os.path.join(self.directory, extras), write_arrays)
        if self._session_start is not None:
            self.seconds = self._seconds_at_start + (
                time.monotonic() - self._session_start
            )
        iterations = None
        if getattr(model, "optimizer", None) is not None:
            iterations = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
        state = {
            "format": _FORMAT,
            "step": self.step,
            "epoch": self.epoch,
            "batch": self.batch,
            "optimizer_iterations": iterations,
            "weights": weights,
            "arrays": extras,
            "history": self.history,
            "seconds": self.seconds,
            **random_states,
        }

        def write_state(tmp):
            with open(tmp, "w") as f:
                json.dump(state, f, indent=1)

        atomic_write(self.state_path(self.directory), write_state)
        for entry in os.scandir(self.directory):
            if entry.name.startswith(_PREFIX) and entry.name not in (weights, extras):
                os.remove(entry.path)

    # Restoring ------------------------------------------------------------

    def restore(self, model=None):
        """Loads the checkpoint into `model` (built and compiled, as before).

        Restores weights, optimizer, random generator states and extra
        variables (and Python's and NumPy's global random states when
        `restore_global_random_state` is set), and sets `step`, `epoch`,
        `batch` and `history`; the metric accumulators are restored when the
        interrupted epoch resumes. Returns `False` (and changes nothing)
        when there is no checkpoint.
        """
        model = model or self.model
        self._restored = True
        state = self.read_state()
        if state is None:
            return False
        if state.get("format") != _FORMAT:
            raise ValueError(
                f"Unknown checkpoint format in {self.directory!r}. Received: "
                f"format={state.get('format')!r}. Expected: {_FORMAT}"
            )
        remove_temporaries(self.directory)
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(model.trainable_variables)
        model.load_weights(os.path.join(self.directory, state["weights"]))
        with np.load(os.path.join(self.directory, state["arrays"])) as arrays:
            arrays = dict(arrays)
        seeds = [v for v in model.variables if _is_seed_state(v)]
        saved_seeds = sorted(
            (k for k in arrays if k.startswith("seed_")), key=lambda k: int(k[5:])
        )
        if len(saved_seeds) == len(seeds):
            for variable, key in zip(seeds, saved_seeds, strict=True):
                variable.assign(arrays[key])
        else:
            warnings.warn(
                f"The checkpoint holds {len(saved_seeds)} random generator "
                f"states, the model has {len(seeds)}; keeping the model's.",
                stacklevel=2,
            )
        for i, variable in enumerate(self.extra_variables):
            key = f"extra_{i}"
            if key not in arrays:
                raise ValueError(
                    f"The checkpoint in {self.directory!r} holds no value for "
                    f"`extra_variables[{i}]`. Received: "
                    f"{len(self.extra_variables)} extra variables"
                )
            variable.assign(arrays[key])
        metrics = sorted(
            (k for k in arrays if k.startswith("metric_")), key=lambda k: int(k[7:])
        )
        # Assigned when the interrupted epoch resumes (after `fit` resets the
        # metrics); a checkpoint at an epoch end starts the next one afresh.
        self._pending_metrics = [arrays[k] for k in metrics] if state["batch"] else None
        if self.restore_global_random_state:
            _set_global_random_states(state, arrays)
        self.step, self.epoch = state["step"], state["epoch"]
        self.batch = state["batch"]
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.seconds = float(state.get("seconds", 0.0))
        self.resumed_from = self.step
        self.resumed_from_epoch = self.epoch
        return True

    # Callback -------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._session_start = time.monotonic()
        self._seconds_at_start = self.seconds
        self.partial_logs = None
        if self._restored:
            return
        # A plain `model.fit(..., callbacks=[checkpoint])`: BackupAndRestore
        # semantics (continue with the checkpoint's epoch).
        if self.restore(self.model):
            if self.batch:
                warnings.warn(
                    f"The checkpoint in {self.directory!r} was taken in the "
                    f"middle of epoch {self.epoch + 1} (after {self.batch} "
                    "steps); `model.fit` restarts that epoch from its first "
                    "batch. Use keras_ssl.app.resume.fit_resumable (formerly "
                    "`RunCheckpoint.fit`) to continue exactly.",
                    stacklevel=2,
                )
                self.batch = 0
                self._pending_metrics = None
            set_initial_epoch(self.model, self.epoch)
            self._reset_initial_epoch = True

    def on_epoch_begin(self, epoch, logs=None):
        self._last_keras_batch = -1
        if epoch != self.epoch:
            self.epoch, self.batch = epoch, 0
        if self._pending_metrics is not None:
            # `fit` has just reset the metrics: continue their accumulation.
            variables = self.model.metrics_variables
            if len(variables) == len(self._pending_metrics):
                for variable, value in zip(
                    variables, self._pending_metrics, strict=True
                ):
                    variable.assign(value)
            else:
                warnings.warn(
                    f"The checkpoint holds {len(self._pending_metrics)} metric "
                    f"variables, the model has {len(variables)}; the metrics "
                    "of the resumed epoch count its remaining steps only.",
                    stacklevel=2,
                )
            self._pending_metrics = None

    def on_train_batch_end(self, batch, logs=None):
        done = batch - self._last_keras_batch
        self._last_keras_batch = batch
        before = self.step
        self.step += done
        self.batch += done
        if self.save_freq is None or self.step // self.save_freq == (
            before // self.save_freq
        ):
            return
        steps = (self.params or {}).get("steps")
        if steps and batch + 1 >= steps:
            return  # the epoch ends here: `on_epoch_end` saves
        self._save_unless_diverged(logs)

    def on_epoch_end(self, epoch, logs=None):
        steps = (self.params or {}).get("steps")
        values = {k: _to_float(v) for k, v in (logs or {}).items()}
        if steps and self._last_keras_batch + 1 < steps:
            # Stopped early (time budget, data ran out): the epoch is not
            # complete, so the checkpoint stays inside it.
            self.partial_logs = values
        else:
            for key, value in values.items():
                self.history.setdefault(key, []).append(value)
            self.epoch, self.batch = epoch + 1, 0
        self._save_unless_diverged(logs)

    def _save_unless_diverged(self, logs):
        # A non-finite loss means the weights may be damaged: keep the last
        # good checkpoint rather than replace it.
        if _diverged(logs):
            if not self._warned_divergence:
                warnings.warn(
                    f"Non-finite loss at step {self.step}: not checkpointing; "
                    f"the checkpoint in {self.directory!r} stays at the last "
                    "finite step.",
                    stacklevel=2,
                )
                self._warned_divergence = True
            return
        self.save()

    def on_train_end(self, logs=None):
        self.seconds = self._seconds_at_start + (time.monotonic() - self._session_start)
        if self._reset_initial_epoch:
            set_initial_epoch(self.model, None)
            self._reset_initial_epoch = False

    # Results ------------------------------------------------------------

    def training_history(self):
        """The run's `keras.callbacks.History`, across resumes.

        Every completed epoch (those before the restored checkpoint
        included), plus a final incomplete epoch when a callback stopped
        training early (`partial_logs`).
        """
        history = keras.callbacks.History()
        history.history = {k: list(v) for k, v in self.history.items()}
        num = max((len(v) for v in history.history.values()), default=0)
        history.epoch = list(range(num))
        if self.partial_logs is not None:
            for key, value in self.partial_logs.items():
                history.history.setdefault(key, []).append(value)
            history.epoch.append(num)
        if self.model is not None:
            history.set_model(self.model)
        return history

    # Deprecated -----------------------------------------------------------

    def fit(
        self,
        model,
        dataset,
        epochs,
        steps_per_epoch,
        callbacks=None,
        epoch_start_callbacks=None,
        **kwargs,
    ):
        """Deprecated: use `keras_ssl.app.resume.fit_resumable`.

        `checkpoint.fit(model, dataset, ...)` is
        `fit_resumable(model, checkpoint, dataset, ...)`, with the same
        arguments and result.
        """
        warnings.warn(
            "`RunCheckpoint.fit` is deprecated: the exact-resume driver is "
            "`keras_ssl.app.resume.fit_resumable(model, checkpoint, dataset, "
            "epochs, steps_per_epoch, ...)`.",
            DeprecationWarning,
            stacklevel=2,
        )
        # deprecated alias: the driver lives in the application
        from keras_ssl.app.resume import fit_resumable

        return fit_resumable(
            model,
            self,
            dataset,
            epochs,
            steps_per_epoch,
            callbacks=callbacks,
            epoch_start_callbacks=epoch_start_callbacks,
            **kwargs,
        )


def _set_global_random_states(state, arrays):
    """Sets Python's and NumPy's global generators to the checkpointed states."""
    name, *numbers = state["numpy_random"]
    np.random.set_state(
        (name, arrays["numpy_random_keys"], int(numbers[0]), int(numbers[1]))
        + (numbers[2],)
    )
    version, gauss = state["python_random"]
    random.setstate(
        (version, tuple(int(x) for x in arrays["python_random_internal"]), gauss)
    )
