"""The DINO loss and centre update against NumPy references."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.losses.dino import (
    dino_center_update,
    dino_loss,
    dino_teacher_probabilities,
)


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def log_softmax(x):
    shifted = x - x.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def reference_loss(students, teachers, center, t_s, t_t):
    """DINO's loop: every (teacher view i, student view j != i) pair."""
    total, pairs = 0.0, 0
    for i, teacher in enumerate(teachers):
        q = softmax((teacher - center) / t_t)
        for j, student in enumerate(students):
            if i == j:
                continue
            total = total + np.sum(-q * log_softmax(student / t_s), axis=-1)
            pairs += 1
    return total / pairs


def logits(rng, views, batch=5, dim=7):
    return [rng.normal(size=(batch, dim)).astype("float32") for _ in range(views)]


@pytest.mark.parametrize("num_views", [2, 3, 6])
def test_matches_numpy_reference(num_views):
    rng = np.random.default_rng(num_views)
    students, teachers = logits(rng, num_views), logits(rng, 2)
    center = rng.normal(size=(1, 7)).astype("float32")
    actual = keras.ops.convert_to_numpy(
        dino_loss(students, teachers, center, 0.1, 0.04)
    )
    expected = reference_loss(students, teachers, center, 0.1, 0.04)
    assert actual.shape == (5,)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


def test_same_view_pairs_are_excluded():
    rng = np.random.default_rng(0)
    students, teachers = logits(rng, 2), logits(rng, 2)
    loss = keras.ops.convert_to_numpy(dino_loss(students, teachers))
    # Two views: the teacher's view 1 teaches the student's view 2 and back.
    cross = [
        np.sum(-softmax(teachers[i] / 0.04) * log_softmax(students[j] / 0.1), -1)
        for i, j in ((0, 1), (1, 0))
    ]
    np.testing.assert_allclose(loss, 0.5 * (cross[0] + cross[1]), rtol=1e-5)
    # A student view that equals its own teacher view gains nothing from it.
    same = [teachers[0] * 0.1 / 0.04, students[1]]
    changed = keras.ops.convert_to_numpy(dino_loss(same, teachers))
    only_pair = np.sum(-softmax(teachers[1] / 0.04) * log_softmax(same[0] / 0.1), -1)
    np.testing.assert_allclose(changed, 0.5 * (cross[0] + only_pair), rtol=1e-5)


def test_teacher_gets_no_gradient_and_students_do():
    rng = np.random.default_rng(1)
    students = [tf.Variable(x) for x in logits(rng, 3)]
    teachers = [tf.Variable(x) for x in logits(rng, 2)]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(dino_loss(students, teachers))
    grads = tape.gradient(loss, [*students, *teachers])
    assert all(g is not None and np.abs(g.numpy()).max() > 0 for g in grads[:3])
    assert all(g is None for g in grads[3:])


def test_centering_and_sharpening():
    t = np.array([[2.0, 1.0, 0.0]], "float32")
    center = np.array([[1.0, 1.0, -1.0]], "float32")
    q = keras.ops.convert_to_numpy(dino_teacher_probabilities(t, center, 0.5))
    np.testing.assert_allclose(q, softmax((t - center) / 0.5), rtol=1e-6)
    sharp = keras.ops.convert_to_numpy(dino_teacher_probabilities(t, None, 0.04))
    soft = keras.ops.convert_to_numpy(dino_teacher_probabilities(t, None, 1.0))
    assert sharp.max() > 0.999 > soft.max()
    # A tensor temperature (a warm-up schedule) works too.
    from_tensor = dino_teacher_probabilities(t, None, keras.ops.convert_to_tensor(1.0))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(from_tensor), soft)


def test_center_update_is_an_ema_of_the_mean_of_all_teacher_rows():
    rng = np.random.default_rng(2)
    teachers = logits(rng, 2, batch=4, dim=3)
    center = rng.normal(size=(1, 3)).astype("float32")
    new = keras.ops.convert_to_numpy(dino_center_update(center, teachers, 0.9))
    batch_mean = np.concatenate(teachers).mean(axis=0, keepdims=True)
    np.testing.assert_allclose(new, 0.9 * center + 0.1 * batch_mean, rtol=1e-5)
    stacked = dino_center_update(center[0], np.concatenate(teachers), 0.9)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(stacked), new, rtol=1e-6)
    unchanged = dino_center_update(center, teachers, 1.0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(unchanged), center)


def test_center_update_uses_the_global_batch():
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    teachers = np.arange(12, dtype="float32").reshape(4, 3)
    center = np.zeros((1, 3), "float32")

    @tf.function
    def step():
        return dino_center_update(center, teachers, 0.5)

    result = strategy.run(step)
    expected = 0.5 * teachers.mean(axis=0, keepdims=True)
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda s, t: dino_loss(s[:1], t[:1]), "2 student views"),
        (lambda s, t: dino_loss(s[:2], s[:3]), "no more teacher views"),
        (lambda s, t: dino_loss(s[0], t), "student_logits"),
        (lambda s, t: dino_loss(s, t, student_temperature=0), "student_temperature"),
        (lambda s, t: dino_loss(s, t, teacher_temperature=-1.0), "teacher_temp"),
        (lambda s, t: dino_center_update(t[0], t, momentum=1.5), "momentum"),
    ],
)
def test_bad_arguments(call, argument):
    rng = np.random.default_rng(3)
    with pytest.raises(ValueError, match=argument):
        call(logits(rng, 3), logits(rng, 2))
