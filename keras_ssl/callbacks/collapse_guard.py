"""Warns or stops when the learned embeddings collapse."""

import logging
import numbers
import warnings

import keras
import numpy as np

from keras_ssl.metrics.effective_rank import EffectiveRank
from keras_ssl.metrics.embedding_std import EmbeddingStd

logger = logging.getLogger("keras_ssl")

_MODES = ("warn", "stop")
_RELATIVE_TOLERANCE = 1e-9


def _to_numpy(variable):
    return np.asarray(keras.ops.convert_to_numpy(variable), dtype="float64")


def _std_state(metric):
    return [_to_numpy(v) for v in (metric.count, metric.total, metric.total_squares)]


def _rank_state(metric):
    return [_to_numpy(v) for v in (metric.count, metric.total, metric.total_outer)]


def _window_std(count, total, total_squares):
    """`embedding_std` of the embeddings summed into the state differences."""
    mean = total / count
    variance = np.maximum(total_squares / count - np.square(mean), 0.0)
    return float(np.mean(np.sqrt(variance)))


def _window_rank(count, total, total_outer):
    """`effective_rank` of the embeddings summed into the state differences."""
    mean = total / count
    second_moment = total_outer / count
    covariance = second_moment - np.outer(mean, mean)
    eigenvalues = np.linalg.eigvalsh(0.5 * (covariance + covariance.T))
    # Differences of running sums leave rounding noise of about 1e-16 of
    # the embeddings' squared norm; the rank, which ignores scale, would
    # count that noise as directions.
    tolerance = _RELATIVE_TOLERANCE * max(np.trace(second_moment), 0.0)
    eigenvalues = np.where(eigenvalues > tolerance, eigenvalues, 0.0)
    singular_values = np.sqrt(eigenvalues * count)
    total_singular = singular_values.sum()
    if total_singular <= 0:
        return 1.0
    p = singular_values / total_singular
    p = p[p > 0]
    return float(np.exp(-np.sum(p * np.log(p))))


# name -> (metric class, state reader, value from state differences)
_MONITORS = {
    "embedding_std": (EmbeddingStd, _std_state, _window_std),
    "effective_rank": (EffectiveRank, _rank_state, _window_rank),
}


def _check_threshold(name, value, minimum):
    if value is None:
        return None
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not is_number or not value > minimum:
        raise ValueError(
            f"Argument `{name}` must be None or a number > {minimum}. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def _check_count(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(
            f"Argument `{name}` must be an int >= 1. Received: {name}={value!r}"
        )
    return int(value)


class CollapseGuard(keras.callbacks.Callback):
    """Warns about, or stops, training whose embeddings have collapsed.

    Joint-embedding methods (SimSiam, BYOL, Barlow Twins, VICReg, SimCLR)
    can collapse: every input maps to nearly the same point (complete
    collapse: `embedding_std` near 0) or into a few directions (dimensional
    collapse: low `effective_rank`). The guard checks the two diagnostics
    every `check_every` training steps; when a monitored value is below its
    threshold at `patience` consecutive checks it warns (`mode="warn"`, once
    per collapse episode) or stops training (`mode="stop"`).

    The diagnostics come from a model built with `collapse_metrics=True`
    (e.g. `SimSiam(encoder, collapse_metrics=True)`). Its metrics accumulate
    over the whole epoch, so a collapse in mid-epoch would take long to show
    in their logged values; the guard instead reads the metrics' state and
    computes each value over the embeddings of the steps since its previous
    check only. For a model that reports a metric of that name without the
    `keras_ssl.metrics` state, the logged (epoch-to-date) value is used.

    Rough scales: with L2-normalised `d`-dimensional projections,
    `embedding_std` is about `1 / sqrt(d)` when the embeddings spread and 0
    when they collapse, so `min_embedding_std=0.1 / sqrt(d)` flags a
    complete collapse; the effective rank lies between 1 and `min(batch
    size * check_every, d)`.

    Args:
        min_embedding_std: threshold for `embedding_std`, > 0, or `None`
            to not monitor it.
        min_effective_rank: threshold for `effective_rank`, > 1 (its
            smallest value), or `None` to not monitor it. At least one of
            the two thresholds must be set.
        patience: consecutive checks below a threshold before acting, >= 1.
        mode: `"warn"` (a `UserWarning` and a log message; training goes
            on) or `"stop"` (`model.stop_training = True`).
        check_every: training steps between checks, >= 1.

    Attributes:
        collapsed_at: the global step (`optimizer.iterations`) at which the
            guard last acted during the last `fit`, or `None`.
        last_values: the monitored values of the last check.

    Example:

    >>> from keras_ssl.encoders import conv_encoder
    >>> from keras_ssl.models import SimSiam
    >>> model = SimSiam(conv_encoder((28, 28, 1), widths=(8, 16)),
    ...                 collapse_metrics=True)
    >>> guard = CollapseGuard(min_embedding_std=0.01, patience=20,
    ...                       mode="stop")
    >>> model.fit(images, epochs=10, callbacks=[guard])  # doctest: +SKIP

    Reference:
        [Chen & He, 2021 (SimSiam)](https://arxiv.org/abs/2011.10566);
        [Garrido et al., 2023 (RankMe)](https://arxiv.org/abs/2210.02885)
    """

    def __init__(
        self,
        min_embedding_std=None,
        min_effective_rank=None,
        patience=10,
        mode="warn",
        check_every=1,
    ):
        super().__init__()
        min_embedding_std = _check_threshold("min_embedding_std", min_embedding_std, 0)
        min_effective_rank = _check_threshold(
            "min_effective_rank", min_effective_rank, 1
        )
        if min_embedding_std is None and min_effective_rank is None:
            raise ValueError(
                "Set at least one of `min_embedding_std` and "
                "`min_effective_rank`. Received: min_embedding_std=None, "
                "min_effective_rank=None"
            )
        if mode not in _MODES:
            raise ValueError(
                f"Argument `mode` must be one of {list(_MODES)}. "
                f"Received: mode={mode!r}"
            )
        self.min_embedding_std = min_embedding_std
        self.min_effective_rank = min_effective_rank
        self.patience = _check_count("patience", patience)
        self.mode = mode
        self.check_every = _check_count("check_every", check_every)
        self.thresholds = {
            name: value
            for name, value in (
                ("embedding_std", min_embedding_std),
                ("effective_rank", min_effective_rank),
            )
            if value is not None
        }
        self.collapsed_at = None
        self.last_values = {}
        self._metrics = {}
        self._streak = 0
        self._acted = False
        self._reset_window()

    def _reset_window(self):
        self._snapshots = {}
        self._steps_since_check = 0
        self._begin_batch = None

    # Callback hooks ---------------------------------------------------------

    def on_train_begin(self, logs=None):
        self.collapsed_at = None
        self.last_values = {}
        self._streak = 0
        self._acted = False
        self._metrics = {}
        for metric in getattr(self.model, "metrics", []):
            entry = _MONITORS.get(metric.name)
            if (
                entry
                and metric.name in self.thresholds
                and isinstance(metric, entry[0])
            ):
                self._metrics[metric.name] = metric
        self._reset_window()

    def on_epoch_begin(self, epoch, logs=None):
        # `fit` resets the metrics before each epoch: the state restarts at 0.
        self._reset_window()

    def on_train_batch_begin(self, batch, logs=None):
        self._begin_batch = batch

    def on_train_batch_end(self, batch, logs=None):
        begin = batch if self._begin_batch is None else self._begin_batch
        self._begin_batch = None
        self._steps_since_check += max(batch - begin + 1, 1)
        if self._steps_since_check < self.check_every:
            return
        self._steps_since_check = 0
        values = self._read_values(logs or {})
        if not values:  # no new embeddings since the last check
            return
        self.last_values = values
        below = {
            name: value
            for name, value in values.items()
            if value < self.thresholds[name]
        }
        if not below:
            self._streak = 0
            self._acted = False
            return
        self._streak += 1
        if self._streak >= self.patience and not self._acted:
            self._act(below)

    # Helpers ----------------------------------------------------------------

    def _read_values(self, logs):
        values = {}
        for name in self.thresholds:
            metric = self._metrics.get(name)
            if metric is None:
                if name not in logs:
                    raise ValueError(
                        f"CollapseGuard monitors `{name}`, which the model "
                        f"does not report (batch logs: {sorted(logs)}). Build "
                        "the model with `collapse_metrics=True`, e.g. "
                        "`SimSiam(encoder, collapse_metrics=True)`, or set "
                        f"`min_{name}=None`."
                    )
                values[name] = float(logs[name])
                continue
            _, read_state, window_value = _MONITORS[name]
            state = read_state(metric)
            previous = self._snapshots.get(name)
            self._snapshots[name] = state
            if previous is not None:
                state = [now - before for now, before in zip(state, previous)]
            if state[0] <= 0:
                continue
            if not all(np.isfinite(part).all() for part in state):
                # Non-finite embeddings are `NonFiniteGuard`'s business; a
                # NaN is not below any threshold.
                values[name] = float("nan")
                continue
            values[name] = window_value(*state)
        return values

    def _act(self, below):
        self._acted = True
        optimizer = getattr(self.model, "optimizer", None)
        step = None
        if getattr(optimizer, "iterations", None) is not None:
            step = int(keras.ops.convert_to_numpy(optimizer.iterations))
        self.collapsed_at = step
        details = ", ".join(
            f"{name} {value:.4g} < {self.thresholds[name]:.4g}"
            for name, value in below.items()
        )
        span = self.patience * self.check_every
        message = (
            f"Representation collapse at step {step}: {details} at "
            f"{self.patience} consecutive checks (the last {span} steps). "
        )
        if self.mode == "stop":
            self.model.stop_training = True
            message += "Training was stopped (mode='stop')."
        else:
            message += "Training goes on (mode='warn')."
        message += (
            " Check the method's stop-gradient / predictor, the augmentations "
            "and the learning rate, or raise the variance weight / temperature."
        )
        logger.warning("%s", message)
        if self.mode == "warn":
            warnings.warn(message, UserWarning, stacklevel=2)
