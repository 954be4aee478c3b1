"""`TimeBudget`: a wall-clock limit that sizes a `WarmupCosine` to the steps
the budget allows. A fake clock (advanced by each step's cost when the step
begins) makes every number exact: no timing is measured."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.callbacks import TimeBudget
from keras_ssl.schedules import WarmupCosine

PEAK, ALPHA = 1e-2, 0.1
FINAL = np.float32(PEAK * ALPHA)
STEPS_PER_EPOCH, EPOCHS = 40, 2  # 80 steps by epochs
X = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
DATA = tf.data.Dataset.from_tensor_slices((X, X @ np.ones((4, 1), "float32")))
DATA = DATA.batch(8).repeat()


class FakeClock(keras.callbacks.Callback):
    """A clock that each step advances by its cost (`first` for the first
    step of the run, which compiles, then `costs(step)`), as the step begins."""

    def __init__(self, first, cost):
        super().__init__()
        self.now, self.first, self.cost, self.steps = 0.0, first, cost, 0

    def __call__(self):
        return self.now

    def on_train_batch_begin(self, batch, logs=None):
        cost = self.cost(self.steps) if callable(self.cost) else self.cost
        self.now += self.first if self.steps == 0 else cost
        self.steps += 1


def _fit(budget, clock, schedule, epochs=EPOCHS, start_at=0):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.AdamW(schedule), loss="mse")
    if start_at:
        model.optimizer.build(model.trainable_variables)
        model.optimizer.iterations.assign(start_at)
    history = model.fit(
        DATA,
        epochs=epochs,
        steps_per_epoch=STEPS_PER_EPOCH,
        verbose=0,
        shuffle=False,
        callbacks=[clock, budget],
    )
    return model, history


def _schedule(warmup=7):
    return WarmupCosine(PEAK, STEPS_PER_EPOCH * EPOCHS, warmup, alpha=ALPHA)


def _sized_run(**kwargs):
    clock = FakeClock(first=3.0, cost=1.0)
    schedule = _schedule()
    budget = TimeBudget(70, schedule=schedule, clock=clock, **kwargs)
    model, history = _fit(budget, clock, schedule)
    return model, history, budget, clock


@pytest.fixture(scope="module")
def sized():
    return _sized_run()


def test_sizes_the_schedule_at_the_end_of_the_warm_up(sized):
    model, history, budget, clock = sized
    # Steps 2-7 (the warm-up) took 1 s each; at step 7, 70 - (3 + 6) = 61 s
    # are left: 7 + floor(0.95 * 61 / 1) = 64 steps.
    assert budget.sizing == {
        "budget_sized": True,
        "total_steps": 64,
        "at_step": 7,
        "warmup_steps": 7,
        "step_seconds": 1.0,
        "measured_steps": 6,
        "remaining_seconds": 61.0,
        "retraced_at_step": None,
        "retraced_total_steps": None,
    }
    assert budget.stop_at == 64
    assert budget.schedule.resized["total_steps"] == 64


def test_stops_at_the_sized_step_with_the_final_learning_rate(sized):
    model, history, budget, clock = sized
    assert int(model.optimizer.iterations) == 64
    assert (budget.stopped_early, budget.cut) == (True, False)
    assert clock.now == 3.0 + 63  # within the budget
    assert model.optimizer.learning_rate.numpy() == FINAL
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert len(history.history["loss"]) == 2  # the second epoch, cut short


def test_no_margin():
    model, _, budget, _ = _sized_run(margin=0.0)
    assert budget.sizing["total_steps"] == 7 + 61
    assert int(model.optimizer.iterations) == 68
    assert model.optimizer.learning_rate.numpy() == FINAL


def _retraced_run(replay=None, start_at=0):
    # The step after the retrace takes 4 s more.
    clock = FakeClock(first=3.0, cost=lambda step: 5.0 if step == 7 else 1.0)
    schedule = _schedule()
    retraced = []
    budget = TimeBudget(
        70, schedule=schedule, retrace=retraced.append, replay=replay, clock=clock
    )
    model, _ = _fit(budget, clock, schedule, start_at=start_at)
    return model, budget, retraced


@pytest.fixture(scope="module")
def retraced():
    return _retraced_run()


def test_a_retrace_is_timed_before_the_schedule_is_sized(retraced):
    # At step 7: 7 + floor(0.95 * 61) = 64 steps; the train step is retraced
    # with them, and the next step (4 s longer) is timed: at step 8,
    # 70 - 14 = 56 s are left, so 8 + floor(0.95 * 56) = 61 steps.
    model, budget, calls = retraced
    assert calls == [64]
    sizing = budget.sizing
    assert (sizing["retraced_at_step"], sizing["retraced_total_steps"]) == (7, 64)
    assert (sizing["at_step"], sizing["total_steps"]) == (8, 61)
    assert (sizing["remaining_seconds"], sizing["step_seconds"]) == (56.0, 1.0)
    assert int(model.optimizer.iterations) == 61
    assert model.optimizer.learning_rate.numpy() == FINAL


def test_a_long_warm_up_is_measured_for_a_tenth_of_the_budget():
    # 2 s steps: the 5 steps after the first take 10 s, a tenth of the
    # budget, before the warm-up ends; 6 + floor(0.95 * 87 / 2) = 47 steps,
    # and the warm-up is shortened to a fifth of them (9).
    clock = FakeClock(first=3.0, cost=2.0)
    schedule = _schedule(warmup=20)
    budget = TimeBudget(100, schedule=schedule, clock=clock)
    model, _ = _fit(budget, clock, schedule)
    assert (budget.sizing["at_step"], budget.sizing["total_steps"]) == (6, 47)
    assert budget.sizing["warmup_steps"] == 9
    assert int(model.optimizer.iterations) == 47
    assert model.optimizer.learning_rate.numpy() == FINAL


def test_epochs_win_when_they_end_first():
    clock = FakeClock(first=3.0, cost=1.0)
    schedule = _schedule()
    budget = TimeBudget(1000, schedule=schedule, clock=clock)
    model, _ = _fit(budget, clock, schedule)
    assert budget.sizing["budget_sized"] is False
    assert budget.sizing["total_steps"] == 80
    assert schedule.resized is None
    assert int(model.optimizer.iterations) == 80
    assert budget.stopped_early is False
    assert model.optimizer.learning_rate.numpy() == FINAL


def test_the_wall_clock_limit_still_cuts_steps_slower_than_measured():
    # 1 s steps until step 7 (sized to 64), then 3 s steps: the budget runs
    # out at step 28 (3 + 6 * 1 + 21 * 3 = 72 s).
    clock = FakeClock(first=3.0, cost=lambda step: 1.0 if step < 7 else 3.0)
    schedule = _schedule()
    budget = TimeBudget(70, schedule=schedule, clock=clock)
    model, _ = _fit(budget, clock, schedule)
    assert budget.sizing["total_steps"] == 64
    assert (budget.stopped_early, budget.cut) == (True, True)
    assert int(model.optimizer.iterations) == 28


@pytest.mark.parametrize("start_at", [0, 30])
def test_a_replayed_retrace_and_sizing(retraced, start_at):
    # Resumed before the retrace (at step 0) or after the sizing (30).
    recorded = retraced[1].sizing
    model, budget, calls = _retraced_run(replay=recorded, start_at=start_at)
    assert calls == [64]
    assert budget.sizing == recorded
    assert budget.schedule.resized == retraced[1].schedule.resized
    assert int(model.optimizer.iterations) == 61
    assert model.optimizer.learning_rate.numpy() == FINAL


@pytest.mark.parametrize("start_at", [0, 30])
def test_a_replayed_sizing_is_applied_without_measuring(sized, start_at):
    # A resumed run: fast steps would size the schedule otherwise; it takes
    # the recorded sizing instead, at its step (or at once when past it).
    recorded = sized[2].sizing
    clock = FakeClock(first=0.01, cost=0.01)
    schedule = _schedule()
    reported = []
    budget = TimeBudget(
        100, schedule=schedule, replay=recorded, on_sized=reported.append, clock=clock
    )
    model, _ = _fit(budget, clock, schedule, start_at=start_at)
    assert reported == [recorded]
    assert schedule.resized == sized[2].schedule.resized
    assert int(model.optimizer.iterations) == 64
    assert model.optimizer.learning_rate.numpy() == FINAL


def test_without_a_schedule_it_stops_after_the_budget():
    clock = FakeClock(first=3.0, cost=1.0)
    budget = TimeBudget(10, clock=clock)
    model, _ = _fit(budget, clock, 1e-3)
    # The clock passes 10 s at the end of step 9 (3 + 8 * 1 = 11).
    assert int(model.optimizer.iterations) == 9
    assert (budget.stopped_early, budget.cut, budget.sizing) == (True, True, None)
    # The budget spans every `fit` of the run: a second one stops at once.
    model.fit(
        DATA, steps_per_epoch=5, verbose=0, shuffle=False, callbacks=[clock, budget]
    )
    assert int(model.optimizer.iterations) == 10


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seconds": 0}, r"`seconds` must be a finite number > 0 or None. "),
        ({"seconds": float("inf")}, r"Received: seconds=inf"),
        ({"seconds": "soon"}, r"Received: seconds='soon'"),
        ({"seconds": True}, r"Received: seconds=True"),
        ({"margin": 1.0}, r"`margin` must be a number in \[0, 1\). Received: margin"),
        ({"schedule": 1e-3}, r"`schedule` must be None or a schedule .*=0.001"),
        ({"replay": {"steps": 3}}, r"`replay` must be None or the `sizing`"),
        (
            {"replay": {"budget_sized": True, "total_steps": 9, "at_step": 2}},
            r"pass `schedule` too",
        ),
        ({"retrace": 3}, r"`retrace` must be a function or None. Received"),
        ({"on_sized": 3}, r"`on_sized` must be a function or None. Received"),
        ({"clock": "now"}, r"`clock` must be a function or None. Received"),
    ],
)
def test_bad_arguments(kwargs, message):
    kwargs = {"seconds": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        TimeBudget(**kwargs)
