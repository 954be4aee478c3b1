import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.losses.swav import (
    sinkhorn,
    swapped_prediction,
    swav_codes,
    swav_loss,
)


def sinkhorn_reference(scores, epsilon, iterations):
    """SwAV's Sinkhorn-Knopp in float64 NumPy, as in the paper's code."""
    q = np.exp(scores.astype("float64") / epsilon).T  # (K, B)
    k, b = q.shape
    q /= q.sum()
    for _ in range(iterations):
        q /= q.sum(axis=1, keepdims=True)
        q /= k
        q /= q.sum(axis=0, keepdims=True)
        q /= b
    return q.T  # (B, K): the plan, rows summing to 1/B


def log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def swapped_reference(view_scores, codes, temperature):
    views = len(view_scores)
    total = np.zeros(len(view_scores[0]))
    for g, code in enumerate(codes):
        for v in range(views):
            if v != g:
                log_p = log_softmax(view_scores[v].astype("float64") / temperature)
                total -= (code * log_p).sum(axis=1) / (views - 1)
    return total / len(codes)


def cosine_scores(batch, num_prototypes, dim=6, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(batch, dim))
    c = rng.normal(size=(dim, num_prototypes))
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    c /= np.linalg.norm(c, axis=0, keepdims=True)
    return (z @ c).astype("float32")


def numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("epsilon", [0.05, 0.5])
@pytest.mark.parametrize("iterations", [1, 3])
def test_sinkhorn_matches_numpy_reference(epsilon, iterations):
    scores = cosine_scores(12, 5, seed=iterations)
    expected = sinkhorn_reference(scores, epsilon, iterations)
    actual = numpy(sinkhorn(scores, epsilon=epsilon, iterations=iterations))
    np.testing.assert_allclose(actual, expected, rtol=2e-4, atol=1e-9)


def test_sinkhorn_marginals():
    batch, k = 16, 4
    plan = numpy(sinkhorn(cosine_scores(batch, k), epsilon=0.1, iterations=50))
    # Every example holds 1/B (exact after the last row rescaling) and
    # every prototype about 1/K of the mass.
    np.testing.assert_allclose(plan.sum(axis=1), np.full(batch, 1 / batch), rtol=1e-5)
    np.testing.assert_allclose(plan.sum(axis=0), np.full(k, 1 / k), rtol=1e-3)
    # A few iterations are only roughly balanced (the test can fail).
    rough = numpy(sinkhorn(cosine_scores(batch, k), epsilon=0.05, iterations=1))
    assert np.abs(rough.sum(axis=0) - 1 / k).max() > 1e-3


def test_codes_are_rows_summing_to_one():
    scores = cosine_scores(10, 7)
    codes = numpy(swav_codes(scores, epsilon=0.05, iterations=3))
    np.testing.assert_allclose(codes.sum(axis=1), np.ones(10), rtol=1e-5)
    np.testing.assert_allclose(codes, 10 * sinkhorn_reference(scores, 0.05, 3), 2e-4)


def test_queue_rows_join_the_sums_once():
    scores, queue = cosine_scores(6, 5, seed=1), cosine_scores(10, 5, seed=2)
    with_queue = numpy(sinkhorn(scores, 0.05, 3, queue_scores=queue))
    expected = sinkhorn_reference(np.concatenate([scores, queue]), 0.05, 3)[:6]
    np.testing.assert_allclose(with_queue, expected, rtol=2e-4, atol=1e-9)
    # Codes are normalised over batch + queue rows (16), rows sum to 1.
    codes = numpy(swav_codes(scores, 0.05, 3, queue_scores=queue))
    np.testing.assert_allclose(codes.sum(axis=1), np.ones(6), rtol=1e-5)
    # Weight 0 switches the queue off: the plan of the batch alone.
    off = numpy(sinkhorn(scores, 0.05, 3, queue_scores=queue, queue_weight=0.0))
    np.testing.assert_allclose(off, sinkhorn_reference(scores, 0.05, 3), rtol=2e-4)


def test_sinkhorn_is_stable_for_large_scores():
    # exp(300 / 0.05) overflows float32; the shift by the maximum keeps
    # the plan finite and equal to the one of the shifted scores.
    scores = cosine_scores(8, 4) + 300.0
    plan = numpy(sinkhorn(scores, 0.05, 3))
    assert np.isfinite(plan).all()
    expected = sinkhorn_reference(scores - 300.0, 0.05, 3)
    np.testing.assert_allclose(plan, expected, rtol=2e-3, atol=1e-7)


@pytest.mark.parametrize("num_views,num_codes", [(2, 2), (4, 2), (3, 1)])
def test_swapped_prediction_matches_numpy_reference(num_views, num_codes):
    view_scores = [cosine_scores(8, 5, seed=10 + v) for v in range(num_views)]
    rng = np.random.default_rng(num_views)
    codes = [rng.dirichlet(np.ones(5), size=8) for _ in range(num_codes)]
    expected = swapped_reference(view_scores, codes, 0.1)
    actual = numpy(swapped_prediction(view_scores, codes, temperature=0.1))
    np.testing.assert_allclose(actual, expected, rtol=1e-4)


def test_swav_loss_matches_numpy_reference():
    view_scores = [cosine_scores(8, 6, seed=20 + v) for v in range(4)]
    codes = [8 * sinkhorn_reference(s, 0.05, 3) for s in view_scores[:2]]
    expected = swapped_reference(view_scores, codes, 0.1)
    actual = numpy(swav_loss(view_scores, temperature=0.1, epsilon=0.05))
    np.testing.assert_allclose(actual, expected, rtol=1e-3)


def test_no_gradient_through_the_codes():
    view_scores = [cosine_scores(8, 5, seed=30 + v) for v in range(3)]
    variables = [tf.Variable(s) for s in view_scores]
    with tf.GradientTape(persistent=True) as tape:
        loss = keras.ops.sum(swav_loss(variables, temperature=0.5, epsilon=0.05))
        code_sum = keras.ops.sum(swav_codes(variables[0]) * view_scores[0])
    assert tape.gradient(code_sum, variables[0]) is None
    gradients = [numpy(g) for g in tape.gradient(loss, variables)]
    # With constant codes q_g: dL/ds_v = sum_{g != v} (softmax(s_v/T) - q_g)
    # / (T * G * (V - 1)).
    codes = [8 * sinkhorn_reference(s, 0.05, 3) for s in view_scores[:2]]
    for v, s in enumerate(view_scores):
        p = np.exp(log_softmax(s.astype("float64") / 0.5))
        expected = sum((p - codes[g]) / (0.5 * 2 * 2) for g in range(2) if g != v)
        np.testing.assert_allclose(gradients[v], expected, rtol=1e-3, atol=1e-6)


def test_argument_errors():
    scores = cosine_scores(4, 3)
    with pytest.raises(ValueError, match="epsilon"):
        sinkhorn(scores, epsilon=0.0)
    with pytest.raises(ValueError, match="iterations"):
        sinkhorn(scores, iterations=0)
    with pytest.raises(ValueError, match=r"scores.shape=\(12,\)"):
        sinkhorn(scores.reshape(-1))
    with pytest.raises(ValueError, match="same number of prototypes"):
        sinkhorn(scores, queue_scores=cosine_scores(4, 5))
    with pytest.raises(ValueError, match="at least 2 views"):
        swapped_prediction([scores], [scores])
    with pytest.raises(ValueError, match="Received: 3 codes"):
        swapped_prediction([scores, scores], [scores] * 3)
    with pytest.raises(ValueError, match="temperature"):
        swav_loss([scores, scores], temperature=-1.0)


def test_sinkhorn_under_xla_with_an_unused_queue_and_a_dead_prototype():
    scores = cosine_scores(8, 5, seed=3)
    queue = np.zeros((16, 5), "float32")  # an empty queue, switched off
    # Every example scores 1 against one live prototype, 0.5 against the
    # others and -1 against the last: exp(-2 / 0.01) underflows to 0.
    live = 0.5 + 0.5 * np.eye(4, dtype="float32")[np.arange(8) % 4]
    dead_scores = np.concatenate([live, -np.ones((8, 1), "float32")], axis=1)

    def plans(s, d):
        return (
            sinkhorn(s, 0.05, 3, queue_scores=queue, queue_weight=0.0),
            sinkhorn(d, 0.01, 3),
        )

    for run in (plans, tf.function(plans, jit_compile=True)):
        queue_off, dead = (numpy(p) for p in run(scores, dead_scores))
        expected = sinkhorn_reference(scores, 0.05, 3)
        np.testing.assert_allclose(queue_off, expected, rtol=2e-4, atol=1e-9)
        assert np.isfinite(dead).all() and not dead[:, -1].any()
        np.testing.assert_allclose(dead.sum(axis=1), np.full(8, 1 / 8), rtol=1e-5)
