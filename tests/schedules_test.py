"""`keras_ssl.schedules.WarmupCosine`: a warm-up + cosine schedule whose
length is set once while training (a time budget sizes it)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.schedules import WarmupCosine, warmup_cosine

PEAK, ALPHA = 2e-3, 0.1
FINAL = np.float32(PEAK * ALPHA)


def _values(schedule, steps):
    """The schedule at `steps`, evaluated at once (it is elementwise)."""
    return np.asarray(schedule(np.asarray(list(steps), "int64")), np.float32)


def _reference(schedule, steps):
    return np.array([float(schedule(step)) for step in steps], np.float32)


def test_before_a_resize_it_is_warmup_cosine():
    steps = range(0, 130, 3)
    np.testing.assert_allclose(
        _values(WarmupCosine(PEAK, 100, 20, alpha=ALPHA), steps),
        _reference(warmup_cosine(PEAK, 100, 20, alpha=ALPHA), steps),
        rtol=1e-6,
        atol=1e-10,
    )
    np.testing.assert_allclose(  # no warm-up: starts at the peak
        _values(WarmupCosine(PEAK, 50, alpha=ALPHA), (0, 25, 50)),
        [PEAK, (PEAK + PEAK * ALPHA) / 2, PEAK * ALPHA],
        rtol=1e-6,
    )


def test_resized_during_the_warm_up():
    schedule = WarmupCosine(PEAK, 1000, 100, alpha=ALPHA)
    before = _values(schedule, range(0, 30))
    resized = schedule.resize(200, at_step=30)
    # The warm-up (100) is longer than a fifth of 200: it ends at step 40.
    assert resized == {"total_steps": 200, "at_step": 30, "warmup_steps": 40}
    np.testing.assert_array_equal(_values(schedule, range(0, 30)), before)
    values = _values(schedule, range(30, 260))
    # From its value at step 30 (30 / 100 of the peak) to the peak at 40 ...
    np.testing.assert_allclose(values[0], PEAK * 0.3, rtol=1e-6)
    np.testing.assert_allclose(values[5], PEAK * 0.3 + (PEAK * 0.7) / 2, rtol=1e-6)
    np.testing.assert_allclose(values[10], PEAK, rtol=1e-6)
    assert np.all(np.diff(values[:11]) > 0)
    # ... then down to exactly the final value at step 200, and it stays.
    assert np.all(np.diff(values[10:171]) < 0)
    np.testing.assert_allclose(values[10 + 80], (PEAK + FINAL) / 2, rtol=1e-5)
    assert values[170] == FINAL
    assert np.all(values[170:] == FINAL)
    assert schedule.final_total_steps == 200


def test_resized_after_the_warm_up_decays_from_its_value_there():
    schedule = WarmupCosine(PEAK, 1000, 10, alpha=ALPHA)
    at_value = float(schedule(400))
    before = _values(schedule, range(0, 400))
    assert schedule.resize(500, at_step=400)["warmup_steps"] == 400
    np.testing.assert_array_equal(_values(schedule, range(0, 400)), before)
    values = _values(schedule, range(400, 501))
    np.testing.assert_allclose(values[0], at_value, rtol=1e-6)
    np.testing.assert_allclose(values[50], (at_value + FINAL) / 2, rtol=1e-5)
    assert np.all(np.diff(values) < 0)
    assert values[-1] == FINAL


def test_a_budget_shorter_than_the_warm_up_stops_ramping_there():
    schedule = WarmupCosine(PEAK, 1000, 100, alpha=ALPHA)
    assert schedule.resize(12, at_step=10)["warmup_steps"] == 10
    values = _values(schedule, (10, 11, 12, 13))
    np.testing.assert_allclose(values[0], PEAK * 0.1, rtol=1e-6)
    np.testing.assert_allclose(values[1], (PEAK * 0.1 + FINAL) / 2, rtol=1e-5)
    assert values[2] == values[3] == FINAL


def test_a_compiled_step_sees_the_resize():
    # Resizing sets a variable: a function traced (with XLA) before the
    # resize uses the new length without being traced again.
    schedule = WarmupCosine(PEAK, 1000, 10, alpha=ALPHA)
    learning_rate = tf.function(schedule, jit_compile=True)
    step = tf.constant(60, "int64")
    assert float(learning_rate(step)) > 0.9 * PEAK
    schedule.resize(60, at_step=20)
    assert learning_rate(step).numpy() == FINAL
    assert learning_rate.experimental_get_tracing_count() == 1


def test_the_resize_survives_serialization():
    schedule = WarmupCosine(PEAK, 1000, 10, alpha=ALPHA)
    schedule.resize(60, at_step=20)
    optimizer = keras.optimizers.AdamW(schedule)
    # The optimizer's own variables do not include the schedule's.
    plain = keras.optimizers.AdamW(warmup_cosine(PEAK, 1000, 10))
    assert [v.name for v in optimizer.variables] == [v.name for v in plain.variables]
    config = keras.optimizers.serialize(optimizer)
    restored = keras.optimizers.deserialize(config)._learning_rate
    assert isinstance(restored, WarmupCosine)
    assert restored.resized == schedule.resized
    np.testing.assert_array_equal(
        _values(restored, range(0, 70, 5)), _values(schedule, range(0, 70, 5))
    )
    unresized = WarmupCosine.from_config(WarmupCosine(PEAK, 100, 10).get_config())
    assert unresized.resized is None


def test_it_is_resized_once():
    schedule = WarmupCosine(PEAK, 1000, 10)
    schedule.resize(60, at_step=20)
    assert schedule.resize(60, at_step=20)["total_steps"] == 60  # the same: fine
    with pytest.raises(ValueError, match="resized once.*total_steps=70"):
        schedule.resize(70, at_step=20)


@pytest.mark.parametrize(
    "total_steps, at_step, message",
    [
        (20, 20, r"`total_steps` must be an int >= 21. Received: total_steps=20"),
        (10.5, 2, r"`total_steps` must be an int >= 3. Received: total_steps=10.5"),
        (10, -1, r"`at_step` must be an int >= 0. Received: at_step=-1"),
    ],
)
def test_bad_resize_arguments(total_steps, at_step, message):
    with pytest.raises(ValueError, match=message):
        WarmupCosine(PEAK, 100, 10).resize(total_steps, at_step)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"total_steps": 0}, r"Received: total_steps=0"),
        ({"learning_rate": -1.0}, r"Received: learning_rate=-1.0"),
        ({"alpha": 2.0}, r"Received: alpha=2.0"),
        ({"resized": {"steps": 5}}, r"Received: resized=\{'steps': 5\}"),
    ],
)
def test_bad_arguments(kwargs, message):
    args = {"learning_rate": PEAK, "total_steps": 100, **kwargs}
    with pytest.raises(ValueError, match=message):
        WarmupCosine(**args)
