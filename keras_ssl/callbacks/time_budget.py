"""Stop training after a wall-clock budget, with a schedule sized to it."""

import math
import time

import keras

#: Steps timed (after the first, which compiles) before a schedule is sized.
MIN_MEASURED_STEPS = 5
#: The measurement ends at the warm-up's end, or once it has lasted this
#: fraction of the budget (a slow model whose warm-up would not fit).
MAX_MEASURE_FRACTION = 0.1


def _clock():
    """The default clock (a module attribute, so tests can replace it)."""
    return time.monotonic()


def _check_seconds(name, value, allow_none=True):
    if value is None and allow_none:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(
            f"Argument `{name}` must be a finite number > 0"
            f"{' or None' if allow_none else ''}. Received: {name}={value!r}"
        )
    return float(value)


class TimeBudget(keras.callbacks.Callback):
    """Stops `fit` after `seconds`; can size a schedule to what they allow.

    Without a `schedule` it stops `fit` at the first batch end after
    `seconds` of training (counted from the first `on_train_begin`).

    With a `schedule` (a `keras_ssl.schedules.WarmupCosine`, or any object
    with `total_steps`, `warmup_steps` and `resize(total_steps, at_step)`),
    it measures the mean step time over the steps after the first (which
    traces and compiles the train step) until the warm-up ends (at least
    `MIN_MEASURED_STEPS` steps; earlier when the measurement has lasted a
    tenth of the budget), and then sizes the schedule to

        steps = steps_done + floor(remaining * (1 - margin) / step_time)

    where `remaining` is the budget left. The schedule then decays to its
    final value at that step and training stops there, so the run ends with
    its learning rate decayed instead of being cut mid-way. When the epochs
    end first (`steps >= schedule.total_steps`), the schedule is left as it
    is. The wall-clock limit still applies: should the steps become slower
    than measured, `fit` stops at `seconds` as without a schedule.

    Something else sized by the run's steps and read when the train step is
    traced (BYOL's, MoCo's or DINO's momentum schedule) is resized by
    `retrace`: it is called with the steps computed as above, and the
    schedule is sized one step later from the budget left then, so the time
    of the retrace is counted (the momentum schedule ends those few steps
    after the learning rate's).

    A resumed run passes the sizing its first run recorded (`replay`): the
    schedule is resized from it (at its `at_step`, as in the first run,
    after the same `retrace`) and nothing is measured again.

    Args:
        seconds: wall-clock budget, a finite number > 0, or `None` for no
            limit.
        schedule: optional schedule to size (see above).
        margin: fraction of the remaining budget left free for what the
            measured steps did not include (checkpoints, epoch ends), in
            `[0, 1)`.
        retrace: optional function of the sized total that makes the train
            step use it (sets it and retraces).
        replay: `None`, or the `sizing` of the run being resumed: applied
            instead of measuring.
        on_sized: optional function called with `sizing` once the schedule
            is sized (or found not to need it, or replayed).
        clock: function returning seconds (default `time.monotonic`); tests
            pass a fake one.

    Attributes:
        stopped_early: whether the budget ended `fit` (at the sized step or
            at the wall-clock limit).
        cut: whether the wall-clock limit stopped `fit`.
        sizing: `None` until sized; then a dict: `budget_sized` (whether the
            schedule was resized), `total_steps` (the run's steps: sized, or
            the schedule's own when the epochs end first), `at_step`,
            `warmup_steps` (where the resized warm-up ends), `step_seconds`
            (the mean step time measured), `measured_steps`,
            `remaining_seconds` (the budget left when sized), and, after a
            `retrace`, `retraced_at_step` and `retraced_total_steps` (else
            `None`).

    Example:

    ```python
    schedule = keras_ssl.schedules.WarmupCosine(1e-3, total_steps=10_000,
                                                warmup_steps=200, alpha=0.1)
    model.compile(optimizer=keras.optimizers.AdamW(schedule))
    budget = TimeBudget(600, schedule=schedule)
    model.fit(data, epochs=100, steps_per_epoch=100, callbacks=[budget])
    budget.sizing["total_steps"]  # the steps the 600 s allowed
    ```
    """

    def __init__(
        self,
        seconds,
        schedule=None,
        margin=0.05,
        retrace=None,
        replay=None,
        on_sized=None,
        clock=None,
    ):
        super().__init__()
        self.seconds = _check_seconds("seconds", seconds)
        if schedule is not None and not callable(getattr(schedule, "resize", None)):
            raise ValueError(
                "Argument `schedule` must be None or a schedule with a "
                "`resize(total_steps, at_step)` method (a keras_ssl.schedules."
                f"WarmupCosine). Received: schedule={schedule!r}"
            )
        if (
            isinstance(margin, bool)
            or not isinstance(margin, int | float)
            or not 0 <= margin < 1
        ):
            raise ValueError(
                "Argument `margin` must be a number in [0, 1). "
                f"Received: margin={margin!r}"
            )
        if replay is not None and not (
            isinstance(replay, dict)
            and {"budget_sized", "total_steps", "at_step"} <= set(replay)
        ):
            raise ValueError(
                "Argument `replay` must be None or the `sizing` dict of a "
                f"TimeBudget. Received: replay={replay!r}"
            )
        if replay is not None and replay["budget_sized"] and schedule is None:
            raise ValueError(
                "Argument `replay` resizes a schedule: pass `schedule` too. "
                "Received: schedule=None"
            )
        for name, value in (
            ("retrace", retrace),
            ("on_sized", on_sized),
            ("clock", clock),
        ):
            if value is not None and not callable(value):
                raise ValueError(
                    f"Argument `{name}` must be a function or None. "
                    f"Received: {name}={value!r}"
                )
        self.schedule = schedule
        self.margin = float(margin)
        self.retrace = retrace
        self.replay = None if replay is None else dict(replay)
        self.on_sized = on_sized
        self.clock = clock or _clock
        self.stopped_early = False
        self.cut = False
        self.sizing = None
        self.start = None
        self._stop_at = None
        self._first_step_end = None
        self._measured = None  # (step_seconds, steps timed, retraced at, total)

    @property
    def stop_at(self):
        """The step at which `fit` stops (the sized total), or `None`."""
        return self._stop_at

    def on_train_begin(self, logs=None):
        if self.start is None:  # the budget spans every `fit` of the run
            self.start = self.clock()
        self._begin_step = int(
            keras.ops.convert_to_numpy(self.model.optimizer.iterations)
        )
        self._done = 0
        self._replay(self._begin_step)

    def on_train_batch_end(self, batch, logs=None):
        self._done += 1
        step = self._begin_step + self._done
        now = self.clock()
        if self._done == 1:
            self._first_step_end = now
        if self.seconds is not None and now - self.start > self.seconds:
            self.model.stop_training = True
            self.stopped_early = self.cut = True
            return
        if self.sizing is None and self.schedule is not None:
            if self.replay is not None:
                self._replay(step)
            elif self.seconds is not None:
                self._measure(step, now)
        if self._stop_at is not None and step >= self._stop_at:
            self.model.stop_training = True
            self.stopped_early = True

    def _replay(self, step):
        """Applies what a resumed run recorded, as due at `step`."""
        replay = self.replay
        if replay is None or self.sizing is not None:
            return
        retraced_at = replay.get("retraced_at_step")
        if retraced_at is not None and step >= retraced_at and not self._measured:
            self._measured = (replay.get("step_seconds"), None, retraced_at, None)
            if self.retrace is not None:
                self.retrace(replay["retraced_total_steps"])
        if not replay["budget_sized"] or step >= replay["at_step"]:
            self._apply(dict(replay))

    def _steps(self, step, now, step_seconds):
        """`step` plus the steps the budget left at `now` allows."""
        remaining = self.seconds - (now - self.start)
        usable = max(remaining, 0.0) * (1.0 - self.margin)
        total = int(self.schedule.total_steps)
        if step_seconds <= 0:  # a clock too coarse to time a step
            return total, remaining
        return step + int(min(usable / step_seconds, total)), remaining

    def _measure(self, step, now):
        """Sizes the schedule once enough steps are timed (after a retrace,
        one step later)."""
        if self._measured is not None:  # the step after the retrace: size
            step_seconds, measured, retraced_at, retraced_total = self._measured
            steps, remaining = self._steps(step, now, step_seconds)
            steps = min(max(steps, step + 1), retraced_total)
            self._size(steps, step, step_seconds, measured, remaining)
            self.sizing["retraced_at_step"] = retraced_at
            self.sizing["retraced_total_steps"] = retraced_total
            return self._sized()
        measured = self._done - 1
        window = now - self._first_step_end
        if measured < MIN_MEASURED_STEPS:
            return
        warmup = int(getattr(self.schedule, "warmup_steps", 0) or 0)
        if step < warmup and window < MAX_MEASURE_FRACTION * self.seconds:
            return
        step_seconds = window / measured if window > 0 else 0.0
        steps, remaining = self._steps(step, now, step_seconds)
        steps = max(steps, step + 1)
        if self.retrace is not None and steps - step >= 2:
            if steps < int(self.schedule.total_steps):
                # Size one step later, from the budget left after the retrace.
                self.retrace(steps)
                self._measured = (step_seconds, measured, step, steps)
                return
        self._size(steps, step, step_seconds, measured, remaining)
        self._sized()

    def _size(self, steps, step, step_seconds, measured, remaining):
        total = int(self.schedule.total_steps)
        self.sizing = {
            "budget_sized": steps < total,
            "total_steps": min(steps, total),
            "at_step": step,
            "warmup_steps": None,
            "step_seconds": step_seconds,
            "measured_steps": measured,
            "remaining_seconds": remaining,
            "retraced_at_step": None,
            "retraced_total_steps": None,
        }

    def _apply(self, sizing):
        """Sets `sizing` as the run's, then resizes and tells (`_sized`)."""
        self.sizing = sizing
        self._sized()

    def _sized(self):
        """Resizes the schedule (when sized), sets the stop, tells `on_sized`."""
        sizing = self.sizing
        if sizing["budget_sized"]:
            resized = self.schedule.resize(sizing["total_steps"], sizing["at_step"])
            if isinstance(resized, dict):
                sizing["warmup_steps"] = resized.get("warmup_steps")
            self._stop_at = sizing["total_steps"]
        if self.on_sized is not None:
            self.on_sized(dict(sizing))
