"""`pretrain(time_budget=...)` sizes the warm-up + cosine schedule (and BYOL's
momentum schedule) to the steps the budget allows, reports them, and a
resumed run keeps that sizing.

The clock of `keras_ssl.callbacks.TimeBudget` is replaced by a fake one that
each step advances by a set cost, so the sizing is exact and no timing is
measured. Tiny BYOL: 160 random 8x8 images, batch 8 (20 steps an epoch), 4
epochs (80 steps). The first step "takes" 5 s, the others 1 s, but the
seventh 5 s (a retrace); with 50 s, the measurement ends after 5 timed steps
(a tenth of the budget), at step 6, with 50 - 10 = 40 s left: 6 +
floor(0.95 * 40 / 1) = 44 steps. BYOL's momentum schedule is set to 44 steps
and the train step retraced; at step 7, 50 - 15 = 35 s are left, and the
learning-rate schedule is sized to 7 + floor(0.95 * 35 / 1) = 40 steps.
"""

import json
import logging
import shutil

import keras
import numpy as np
import pytest

from keras_ssl.app import pretrain
from keras_ssl.callbacks import time_budget
from keras_ssl.datasets import from_arrays

SIZED_STEPS = 40
COPY_AT = (8, 13)  # steps done; checkpoints at steps 5 and 10
FINAL_LEARNING_RATE = np.float32(2e-3 * 0.1)  # the image methods' peak, alpha
KWARGS = dict(
    method="byol",
    epochs=4,
    batch_size=8,
    seed=0,
    verbose=0,
    checkpoint_every=5,
    model_kwargs={
        "widths": (4, 8),
        "projection_dim": 4,
        "projection_hidden_dims": (8,),
    },
)


class FakeClock(keras.callbacks.Callback):
    """Advances by `first`, then by `cost` (`slow` at step `slow_at`), as
    each step begins."""

    def __init__(self, first, cost, slow_at=None, slow=None):
        super().__init__()
        self.now, self.first, self.cost = 0.0, first, cost
        self.slow_at, self.slow, self.started = slow_at, slow, False

    def __call__(self):
        return self.now

    def on_train_batch_begin(self, batch, logs=None):
        step = int(self.model.optimizer.iterations) + 1
        cost = self.slow if step == self.slow_at else self.cost
        self.now += cost if self.started else self.first
        self.started = True


class CopyRunAt(keras.callbacks.Callback):
    """Copies the run directory when `at` steps are done (what a crash there
    would leave), once per `at`."""

    def __init__(self, output_dir, destinations):
        super().__init__()
        self.output_dir, self.destinations = output_dir, destinations

    def on_train_begin(self, logs=None):
        (self.run_dir,) = list(self.output_dir.iterdir())

    def on_train_batch_begin(self, batch, logs=None):
        destination = self.destinations.get(int(self.model.optimizer.iterations))
        if destination is not None and not destination.exists():
            shutil.copytree(self.run_dir, destination / "run")


def _images():
    rng = np.random.default_rng(0)
    return from_arrays(rng.integers(0, 256, (160, 8, 8, 1), dtype=np.uint8))


def _pretrain(clock, **kwargs):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time_budget, "_clock", clock)
        return pretrain(dataset=_images(), **KWARGS, **kwargs)


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("budget")
    copies = {at: tmp_path / f"copy-{at}" for at in COPY_AT}
    clock = FakeClock(first=5.0, cost=1.0, slow_at=7, slow=5.0)
    logger = logging.getLogger("keras_ssl")
    records = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        result = _pretrain(
            clock,
            output_dir=str(tmp_path / "runs"),
            time_budget=50,
            callbacks=[clock, CopyRunAt(tmp_path / "runs", copies)],
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    return result, copies, [r.getMessage() for r in records]


def test_the_run_reports_its_budget_sized_steps(full):
    result, _, messages = full
    expected = {
        "steps": SIZED_STEPS,
        "budget_sized": True,
        "budget_steps": SIZED_STEPS,
        "step_seconds": 1.0,
        "stopped_by_time_budget": True,
    }
    assert {k: result[k] for k in expected} == expected
    with open(f"{result['run_dir']}/metrics.json") as f:
        metrics = json.load(f)
    assert {k: metrics[k] for k in expected} == expected
    with open(f"{result['run_dir']}/config.json") as f:
        recorded = json.load(f)["budget_schedule"]
    assert recorded == {
        "budget_sized": True,
        "total_steps": SIZED_STEPS,
        "at_step": 7,
        "warmup_steps": 8,  # a fifth of the 40 steps (16 by epochs)
        "step_seconds": 1.0,
        "measured_steps": 5,
        "remaining_seconds": 35.0,
        "retraced_at_step": 6,
        "retraced_total_steps": 44,
    }
    assert any(
        "sized the schedule to 40 steps (of 80 by epochs)" in m for m in messages
    )
    assert any("Trained 40 of the 40 steps" in m for m in messages)


def test_the_run_ends_with_its_learning_rate_decayed(full):
    result, _, _ = full
    model = result["model"]
    assert model.optimizer.learning_rate.numpy() == FINAL_LEARNING_RATE
    assert np.float32(result["history"]["learning_rate"][-1]) == FINAL_LEARNING_RATE
    # BYOL's EMA momentum schedule was resized too (80 steps by epochs), to
    # the 44 steps known before the retrace: at step 40 it is close to 1.
    assert model.total_steps == 44
    expected = 1 - 0.1 * (np.cos(np.pi * 40 / 44) + 1) / 2
    assert float(model.momentum()) == pytest.approx(expected, abs=1e-6)


@pytest.mark.slow  # two resumed runs, about 10 s each
@pytest.mark.parametrize("copy_at", COPY_AT)
def test_a_resumed_run_keeps_the_sized_schedule(full, copy_at):
    # Resumed from the checkpoint at step 5 (before the retrace at step 6 and
    # the sizing at step 7) or 10 (after them), with a clock so slow that
    # measuring again would size the schedule differently (the 80 steps of
    # the epochs would fit in the new budget): the recorded sizing is kept,
    # and the run equals the uninterrupted one exactly.
    result, copies, _ = full
    config_path = copies[copy_at] / "run" / "config.json"
    recorded = json.loads(config_path.read_text())["budget_schedule"]
    clock = FakeClock(first=5.0, cost=3.0)
    resumed = _pretrain(
        clock,
        output_dir=str(copies[copy_at]),
        time_budget=1000,
        resume=True,
        callbacks=[clock],
    )
    assert resumed["resumed_from_step"] == (5 if copy_at == 8 else 10)
    assert resumed["steps"] == resumed["budget_steps"] == SIZED_STEPS
    assert resumed["step_seconds"] == 1.0  # the first run's measurement
    assert json.loads(config_path.read_text())["budget_schedule"] == recorded
    assert resumed["model"].total_steps == 44
    for a, b in zip(result["model"].weights, resumed["model"].weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    optimizers = (result["model"].optimizer, resumed["model"].optimizer)
    for a, b in zip(*(o.variables for o in optimizers), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    assert optimizers[1].learning_rate.numpy() == FINAL_LEARNING_RATE


@pytest.mark.parametrize("value", [0, -5, float("inf"), float("nan"), "soon", True])
def test_bad_time_budget(tmp_path, value):
    with pytest.raises(ValueError, match=r"`time_budget` must be a (finite )?number"):
        pretrain("byol", _images(), output_dir=str(tmp_path), time_budget=value)
    assert not list(tmp_path.iterdir())  # nothing made
