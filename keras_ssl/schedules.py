"""Learning-rate schedules (a leaf: imports no keras_ssl).

One schedule serves pretraining, fine-tuning and the hyperparameter searches:
linear warm-up from 0 to the peak learning rate, then cosine decay to
`alpha * learning_rate` (`warmup_cosine`). `WarmupCosine` is the same
schedule with a length that can be set once while training, so a run
limited by a time budget ends with its learning rate decayed.
"""

import math

import keras
from keras import ops

from keras_ssl.checks import check_fraction, check_int_range, check_positive


def warmup_cosine(learning_rate, total_steps, warmup_steps=0, alpha=0.0):
    """Linear warm-up then cosine decay, as a Keras `CosineDecay` schedule.

    Args:
        learning_rate: the peak learning rate, reached after the warm-up.
        total_steps: steps of the whole run (warm-up included).
        warmup_steps: steps of linear warm-up from 0 (0: start at the peak).
        alpha: the final learning rate as a fraction of the peak.

    Returns:
        A `keras.optimizers.schedules.CosineDecay` (serializable with the
        optimizer).

    Example:

    >>> schedule = warmup_cosine(1e-3, total_steps=100, warmup_steps=10)
    >>> [round(float(schedule(step)), 6) for step in (0, 5, 10, 100)]
    [0.0, 0.0005, 0.001, 0.0]
    """
    learning_rate = check_positive("learning_rate", learning_rate)
    total_steps = check_int_range("total_steps", total_steps, 1)
    warmup_steps = check_int_range("warmup_steps", warmup_steps, 0)
    alpha = check_fraction("alpha", alpha)
    return keras.optimizers.schedules.CosineDecay(
        0.0 if warmup_steps else learning_rate,
        decay_steps=max(total_steps - warmup_steps, 1),
        alpha=alpha,
        warmup_target=learning_rate if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


def capped_warmup_steps(total_steps, warmup_steps):
    """`warmup_steps`, but at most a fifth of `total_steps` (and at least 1).

    Pretraining warms up over 200 steps, or over the first fifth of a
    shorter run.

    >>> capped_warmup_steps(10_000, 200), capped_warmup_steps(100, 200)
    (200, 20)
    """
    return min(int(warmup_steps), max(int(total_steps) // 5, 1))


#: The `at_step` of a schedule not resized (larger than any real step).
_NOT_RESIZED = 1e30


@keras.saving.register_keras_serializable(package="keras_ssl")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Warm-up + cosine whose total length can be set once, while training.

    Until `resize` is called it is `warmup_cosine(learning_rate,
    total_steps, warmup_steps, alpha)`: a linear warm-up from 0 to
    `learning_rate` over `warmup_steps`, then a cosine decay to
    `alpha * learning_rate` at `total_steps`. `resize(total_steps, at_step)`
    (called once, e.g. by `keras_ssl.callbacks.TimeBudget` when it has
    measured how many steps a time budget allows) changes the length from
    `at_step` on and keeps every value before `at_step`: from its value at
    `at_step` the schedule finishes the warm-up (shortened to a fifth of the
    new total when longer, never ending before `at_step`), then decays along
    a cosine to exactly `alpha * learning_rate` at the new `total_steps`.
    Because the values before `at_step` do not change, a run resized at
    `at_step` and the same run restarted from a checkpoint with the resized
    schedule see the same learning rates step for step.

    The length lives in a non-trainable variable read inside the compiled
    train step (XLA included), so resizing needs no retracing. It is not
    one of the optimizer's variables (checkpoints do not hold it): the
    resize is part of the schedule's config (`get_config`), so a saved
    model reloads with its resized schedule, and a resumed run resizes it
    again from what it recorded.

    Args:
        learning_rate: the peak learning rate, reached after the warm-up.
        total_steps: steps of the whole run (warm-up included) until resized.
        warmup_steps: steps of linear warm-up from 0 (0: start at the peak).
        alpha: the final learning rate as a fraction of the peak.
        resized: `None`, or `{"total_steps": n, "at_step": m}` to resize
            at once (what `resized` returned; used by `from_config`).
        name: name of the schedule.

    Example:

    >>> schedule = WarmupCosine(1e-3, 1000, warmup_steps=10, alpha=0.1)
    >>> schedule.resize(100, at_step=10)
    {'total_steps': 100, 'at_step': 10, 'warmup_steps': 10}
    >>> [round(float(schedule(step)), 6) for step in (5, 10, 55, 100)]
    [0.0005, 0.001, 0.00055, 0.0001]
    """

    def __init__(
        self,
        learning_rate,
        total_steps,
        warmup_steps=0,
        alpha=0.0,
        resized=None,
        name="warmup_cosine",
    ):
        super().__init__()
        self.learning_rate = check_positive("learning_rate", learning_rate)
        self.total_steps = check_int_range("total_steps", total_steps, 1)
        self.warmup_steps = check_int_range("warmup_steps", warmup_steps, 0)
        self.alpha = check_fraction("alpha", alpha)
        self.name = name
        self.resized = None
        # [at_step, warm-up end, total] of the resized part.
        self._resizing = keras.Variable(
            [_NOT_RESIZED, _NOT_RESIZED, _NOT_RESIZED],
            dtype="float32",
            trainable=False,
            name=f"{name}_resizing",
        )
        if resized is not None:
            if not isinstance(resized, dict) or set(resized) - {
                "total_steps",
                "at_step",
                "warmup_steps",
            }:
                raise ValueError(
                    "Argument `resized` must be None or a dict with "
                    f"`total_steps` and `at_step`. Received: resized={resized!r}"
                )
            self.resize(resized.get("total_steps"), resized.get("at_step"))

    def resize(self, total_steps, at_step):
        """Sets the schedule's length from `at_step` on (once).

        Args:
            total_steps: the new total, > `at_step`: the learning rate is
                `alpha * learning_rate` from this step on.
            at_step: the optimizer step from which the new length applies
                (the steps already done); the values before it are kept.

        Returns:
            `{"total_steps": ..., "at_step": ..., "warmup_steps": ...}`, the
            last being the step at which the (shortened) warm-up ends, or
            `at_step` when the warm-up is over (or is cut short there).
        """
        at_step = check_int_range("at_step", at_step, 0)
        total_steps = check_int_range("total_steps", total_steps, at_step + 1)
        if self.resized is not None:
            if (self.resized["total_steps"], self.resized["at_step"]) == (
                total_steps,
                at_step,
            ):
                return dict(self.resized)
            raise ValueError(
                "A WarmupCosine is resized once. Received: "
                f"total_steps={total_steps}, at_step={at_step}; it was resized "
                f"to {self.resized}"
            )
        warmup_end = max(min(self.warmup_steps, total_steps // 5), at_step)
        self._resizing.assign([float(at_step), float(warmup_end), float(total_steps)])
        self.resized = {
            "total_steps": total_steps,
            "at_step": at_step,
            "warmup_steps": warmup_end,
        }
        return dict(self.resized)

    @property
    def final_total_steps(self):
        """The step from which the learning rate is final (resized or not)."""
        return self.total_steps if self.resized is None else self.resized["total_steps"]

    def _cosine(self, step, start, end, top):
        """`top` at `start`, then a cosine down to the final value at `end`."""
        final = self.learning_rate * self.alpha
        progress = ops.clip((step - start) / ops.maximum(end - start, 1.0), 0.0, 1.0)
        value = final + (top - final) * (0.5 * (1.0 + ops.cos(math.pi * progress)))
        # Exactly the final value at the end, whatever the rounding of cos(pi).
        return ops.where(progress < 1.0, value, final)

    def _original(self, step):
        """The schedule before any resize (`warmup_cosine`)."""
        warmup, total = float(self.warmup_steps), float(self.total_steps)
        decay = self._cosine(step, warmup, total, self.learning_rate)
        if not self.warmup_steps:
            return decay
        return ops.where(step < warmup, self.learning_rate * step / warmup, decay)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        resizing = ops.convert_to_tensor(self._resizing)
        at_step, warmup_end, total = resizing[0], resizing[1], resizing[2]
        peak = self.learning_rate
        at_value = self._original(at_step)
        ramp = at_value + (peak - at_value) * (step - at_step) / ops.maximum(
            warmup_end - at_step, 1.0
        )
        top = ops.where(warmup_end > at_step, peak, at_value)
        after = ops.where(
            step < warmup_end, ramp, self._cosine(step, warmup_end, total, top)
        )
        return ops.where(step < at_step, self._original(step), after)

    def get_config(self):
        resized = None
        if self.resized is not None:
            resized = {k: self.resized[k] for k in ("total_steps", "at_step")}
        return {
            "learning_rate": self.learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "alpha": self.alpha,
            "resized": resized,
            "name": self.name,
        }
