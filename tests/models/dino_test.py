"""DINO: training contract, EMA teacher, centre, saving, two replicas."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from keras import ops

from keras_ssl.augmentation.multi_crop import MultiCrop
from keras_ssl.encoders import conv_encoder
from keras_ssl.models.dino import DINO, DINOHead
from keras_ssl.testing import TestCase

HEAD = dict(output_dim=32, hidden_dim=16, bottleneck_dim=8)


class FixedViews(keras.layers.Layer):
    """Deterministic views: two global (flipped, darkened), two 12x12 local."""

    def call(self, images, training=None):
        small = ops.image.resize(images, (12, 12))
        return [ops.flip(images, axis=2), 0.8 * images, small, ops.flip(small, 1)]

    def compute_output_shape(self, shape):
        return [shape, shape, (shape[0], 12, 12, shape[-1]), (shape[0], 12, 12, 1)]


def tiny(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    kwargs = {**HEAD, "num_local": 2, **kwargs}
    if "views" in kwargs:
        kwargs.pop("num_local")
    return DINO(conv_encoder((28, 28, 1), widths=(4, 8)), seed=seed, **kwargs)


def values(variables):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


@pytest.fixture(scope="module")
def images(fashion_images):
    return fashion_images.x[:32]


@pytest.fixture(scope="module")
def one_step(images):
    """A model with fixed views before and after one SGD step."""
    model = tiny(views=FixedViews(), base_momentum=0.5)
    model.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=False)
    teacher = [t for t, _ in model._teacher_pairs()]
    student = [s for _, s in model._teacher_pairs()]
    x = ops.cast(images[:16], "float32") / 255.0
    views = FixedViews()(x)
    teacher_logits = model.teacher_head(
        model.teacher_encoder(ops.concatenate(views[:2], 0), training=True),
        training=True,
    )
    before = {"teacher": values(teacher), "student": values(student)}
    history = model.fit(images[:16], batch_size=16, epochs=1, verbose=0).history
    after = {"teacher": values(teacher), "student": values(student)}
    return model, before, after, history, keras.ops.convert_to_numpy(teacher_logits)


@pytest.fixture(scope="module")
def trained(images):
    """A model with the default MultiCrop views after two Adam steps."""
    model = tiny()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    history = model.fit(images, batch_size=16, epochs=1, verbose=0).history
    return model, history


def test_teacher_is_a_frozen_copy_at_construction():
    model = tiny()
    for teacher, student in model._teacher_pairs():
        np.testing.assert_array_equal(np.array(teacher), np.array(student))
    trainable = {id(v) for v in model.trainable_variables}
    assert not {id(t) for t, _ in model._teacher_pairs()} & trainable
    assert {id(s) for _, s in model._teacher_pairs()} <= {id(v) for v in model.weights}
    assert id(model.center) not in trainable
    np.testing.assert_array_equal(np.array(model.center), np.zeros((1, 32)))
    assert isinstance(model.views, MultiCrop) and model.views.num_local == 2
    assert model.views.local_size == (12, 12)


def test_teacher_normalizes_with_batch_statistics(images):
    # Frozen variables, live layers: in training the teacher's batch norm
    # uses the batch, so teacher and student agree on a fresh model.
    model = tiny()
    assert model.head.batch_norm  # the default
    x = ops.cast(images[:8], "float32") / 255.0
    outputs = [
        keras.ops.convert_to_numpy(head(encoder(x, training=True), training=True))
        for encoder, head in (
            (model.encoder, model.head),
            (model.teacher_encoder, model.teacher_head),
        )
    ]
    np.testing.assert_allclose(outputs[1], outputs[0], atol=1e-5)
    frozen = keras.ops.convert_to_numpy(
        model.teacher_head(model.teacher_encoder(x, training=False))
    )
    assert not np.allclose(frozen, outputs[0], atol=1e-3)
    assert (
        model.teacher_encoder.trainable
        and not model.teacher_encoder.weights[0].trainable
    )


def test_fit_reports_finite_loss_and_diagnostics(trained, images):
    model, history = trained
    assert set(history) == {"loss", "teacher_entropy", "kl_divergence"}
    assert all(np.isfinite(v).all() for v in history.values())
    assert history["loss"][-1] > 0
    entropy = history["teacher_entropy"][-1]
    assert 0.0 <= entropy <= np.log(32) + 1e-4
    assert history["kl_divergence"][-1] > 0
    out = model.predict(images[:5], verbose=0)
    assert out.shape == (5, 8)
    expected = model.encoder.predict(images[:5] / 255, verbose=0)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-7)


def test_teacher_follows_the_ema_formula(one_step):
    model, before, after, history, _ = one_step
    parameters = [s.trainable for _, s in model._teacher_pairs()]
    assert 0 < sum(parameters) < len(parameters)  # moving statistics too
    moved = 0
    for t_old, t_new, s_new, parameter in zip(
        before["teacher"], after["teacher"], after["student"], parameters
    ):
        if parameter:
            np.testing.assert_allclose(t_new, 0.5 * t_old + 0.5 * s_new, atol=1e-6)
        moved += not np.allclose(t_new, s_new)
    # After the step, teacher and student differ (and the student moved).
    assert moved > len(after["teacher"]) // 2
    assert any(
        not np.allclose(a, b) for a, b in zip(before["student"], after["student"])
    )


def test_center_is_an_ema_of_the_teacher_outputs(one_step):
    model, _, _, _, teacher_logits = one_step
    expected = 0.1 * teacher_logits.mean(axis=0, keepdims=True)  # 0.9 * zeros
    np.testing.assert_allclose(np.array(model.center), expected, atol=1e-6)
    assert np.abs(expected).max() > 1e-3


def test_keras_round_trip_and_exact_resume(trained, images, tmp_path):
    model, _ = trained
    restored = TestCase.assert_keras_round_trip(model, images[:4], tmp_path)
    assert isinstance(restored, DINO)
    for a, b in zip(values(restored.weights), values(model.weights)):
        np.testing.assert_array_equal(a, b)  # teacher and centre included
    assert json.dumps(restored.get_config()["views"]) == json.dumps(
        model.get_config()["views"]
    )
    # Both continue alike: same views (seed states), optimizer and centre.
    runs = [m.fit(images[:16], batch_size=16, verbose=0) for m in (model, restored)]
    np.testing.assert_allclose(
        runs[0].history["loss"], runs[1].history["loss"], rtol=1e-5
    )
    np.testing.assert_allclose(
        np.array(restored.center), np.array(model.center), atol=1e-6
    )


def test_config_round_trip():
    model = tiny(
        student_temperature=0.2, warmup_teacher_temperature=0.02, head_batch_norm=False
    )
    config = model.get_config()
    restored = DINO.from_config(config)
    assert restored.student_temperature == 0.2
    assert restored.head.output_dim == 32 and not restored.head.batch_norm
    assert not restored.teacher_head.batch_norm
    assert restored.get_config()["views"] == config["views"]
    TestCase.assert_serialization_round_trip(DINOHead(**HEAD, batch_norm=True))


def test_teacher_temperature_warm_up_and_momentum_schedule():
    model = tiny(
        teacher_temperature=0.07,
        warmup_teacher_temperature=0.03,
        warmup_teacher_steps=10,
        base_momentum=0.9,
        total_steps=10,
    )
    model.compile(optimizer="sgd")
    for step, temperature, momentum in ((0, 0.03, 0.9), (5, 0.05, 0.95), (20, 0.07, 1)):
        model.optimizer.iterations.assign(step)
        assert float(model.current_teacher_temperature()) == pytest.approx(temperature)
        assert float(model.momentum()) == pytest.approx(momentum)


def test_head_prototypes_are_unit_vectors():
    head = DINOHead(**HEAD)
    x = keras.random.normal((6, 5), seed=0)
    logits = keras.ops.convert_to_numpy(head(x))
    assert logits.shape == (6, 32)
    assert np.abs(logits).max() <= 1.0 + 1e-5  # cosine similarities
    head.prototypes.assign(3.0 * head.prototypes)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(head(x)), logits, atol=1e-5)


def test_encoder_that_only_takes_its_own_size():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Flatten()(keras.layers.Conv2D(2, 3, strides=4)(inputs))
    flat = keras.Model(inputs, keras.layers.Dense(4)(x))
    with pytest.raises(ValueError, match=r"cannot take views of size \(12, 12\)"):
        DINO(flat, **HEAD)
    model = DINO(flat, num_local=0, **HEAD)  # global crops only
    assert model.views.num_views == 2


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"views": FixedViews(), "num_local": 3}, "num_local"),
        ({"views": "multicrop"}, "views"),
        ({"student_temperature": 0}, "student_temperature"),
        ({"teacher_temperature": -1}, "teacher_temperature"),
        ({"center_momentum": 2.0}, "center_momentum"),
        ({"base_momentum": 1.0}, "base_momentum"),
        ({"warmup_teacher_steps": -1}, "warmup_teacher_steps"),
        ({"output_dim": 0}, "output_dim"),
    ],
)
def test_bad_arguments(kwargs, argument):
    keras.utils.set_random_seed(0)
    encoder = conv_encoder((28, 28, 1), widths=(4,))
    with pytest.raises(ValueError, match=argument):
        DINO(encoder, **kwargs)


HELPERS_DIR = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "distribute"
)

MIRRORED_SCRIPT = textwrap.dedent(
    """
    import sys

    sys.path.insert(0, __HELPERS_DIR__)
    import distribute_helpers as helpers

    helpers.use_two_logical_cpus()

    import keras
    import tensorflow as tf
    from keras import ops

    from keras_ssl.encoders import conv_encoder
    from keras_ssl.models.dino import DINO


    class FixedViews(keras.layers.Layer):
        def call(self, images, training=None):
            small = ops.image.resize(images, (4, 4))
            return [ops.flip(images, axis=2), 0.8 * images, small, ops.flip(small, 1)]


    def build(head_batch_norm):
        keras.utils.set_random_seed(0)
        model = DINO(
            conv_encoder((8, 8, 1), widths=(4, 8)),
            output_dim=16, hidden_dim=8, bottleneck_dim=4,
            head_batch_norm=head_batch_norm, teacher_temperature=0.1,
            base_momentum=0.5, views=FixedViews(),
        )
        model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
        return model


    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    results = {"replicas": strategy.num_replicas_in_sync}
    for head_batch_norm, steps in ((False, 3), (True, 1)):
        single = build(head_batch_norm)
        s_before, s_after, s_history = helpers.fit_in_order(
            single, helpers.images(16 * steps), 16
        )
        with strategy.scope():
            multi = build(head_batch_norm)
        m_before, m_after, m_history = helpers.fit_in_order(
            multi, helpers.images(16 * steps), 16
        )
        results[f"head_batch_norm={head_batch_norm}"] = {
            "single_history": s_history,
            "multi_history": m_history,
            **helpers.compare_runs(
                single, multi, s_before, s_after, m_before, m_after
            ),
        }
    helpers.print_results(results)
    """
)


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mirrored_dino")
    script = folder / "mirrored_dino.py"
    script.write_text(MIRRORED_SCRIPT.replace("__HELPERS_DIR__", repr(HELPERS_DIR)))
    env = dict(os.environ, KERAS_BACKEND="tensorflow", CUDA_VISIBLE_DEVICES="")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    run = subprocess.run(
        [sys.executable, str(script)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [x for x in run.stdout.splitlines() if x.startswith("RESULTS ")]
    assert run.returncode == 0 and lines, run.stderr[-4000:]
    return json.loads(lines[-1][len("RESULTS ") :])


@pytest.mark.slow
@pytest.mark.parametrize("head_batch_norm", [False, True])
def test_mirrored_over_two_devices_matches_one(mirrored, head_batch_norm):
    """SGD on a global batch of 16 (8 per replica): same loss, student,
    teacher and centre (the centre is averaged over the global batch).

    Three steps without batch norm in the head, so the later steps read the
    teacher and centre the earlier ones wrote; one step with it: batch norm
    over the head's 8 hidden units on a tiny batch amplifies float32 noise
    (summation order) about tenfold per step."""
    assert mirrored["replicas"] == 2
    r = mirrored[f"head_batch_norm={head_batch_norm}"]
    np.testing.assert_allclose(
        r["multi_history"]["loss"], r["single_history"]["loss"], rtol=1e-5
    )
    for name in ("teacher_entropy", "kl_divergence"):
        np.testing.assert_allclose(
            r["multi_history"][name], r["single_history"][name], rtol=1e-4, atol=1e-5
        )
    assert max(r["init_diff"].values()) == 0.0
    moved = {k for k, u in r["update"].items() if u > 1e-6}
    assert any(k.endswith("center") for k in moved)
    assert any("teacher" in k for k in moved)
    assert set(r["trainable"]) <= moved
    bad = {
        k: diff
        for k, diff in r["after_diff"].items()
        if diff > 1e-5 * max(1.0, r["after_scale"][k])
    }
    assert not bad, f"weights differ after training (max abs diff): {bad}"
