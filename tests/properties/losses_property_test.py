"""Property-based tests of the losses: finiteness, invariances, bounds.

The example-based tests in `tests/losses/` pin each loss to a NumPy
reference on a few fixed inputs; these draw many inputs (shapes, extreme
magnitudes, zero and duplicate rows, temperatures, labels) and check what
must hold for all of them.
"""

import math
import os

import numpy as np
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from keras_ssl.losses import (
    barlow_twins,
    batch_hard_triplet,
    batch_semi_hard_triplet,
    info_nce,
    negative_cosine_similarity,
    nt_xent,
    triplet,
    vicreg,
)

# No example database: tests must not write into the repository. Set
# KERAS_SSL_PROPERTY_EXAMPLES to search longer (e.g. 1000 in a nightly run).
PROPERTY = settings(
    max_examples=int(os.environ.get("KERAS_SSL_PROPERTY_EXAMPLES", "25")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

DISTANCES = ("squared_euclidean", "euclidean", "cosine")
# Every float32 that is finite.
F32_MAX = float(np.finfo("float32").max)


def _np(x):
    return np.asarray(x)


def float_arrays(shape, max_value):
    """float32 arrays whose entries are any finite float in [-max, max]."""
    return hnp.arrays(
        "float32",
        shape,
        elements=st.floats(-max_value, max_value, width=32, allow_subnormal=True),
    )


@st.composite
def view_pairs(draw, max_value, min_batch=1, max_batch=6, max_dim=6):
    """Two `(batch, dim)` views with nasty entries, zero and duplicate rows."""
    batch = draw(st.integers(min_batch, max_batch))
    dim = draw(st.integers(1, max_dim))
    z1 = draw(float_arrays((batch, dim), max_value))
    z2 = draw(float_arrays((batch, dim), max_value))
    if draw(st.booleans()):  # near-duplicates of the first row
        noise = draw(st.floats(0.0, 1e-3))
        z1 = (z1[:1] * (1.0 - noise * np.arange(batch)[:, None])).astype("float32")
    return z1, z2


@st.composite
def normal_views(draw, min_batch=2, max_batch=8, dim=None):
    """Well-conditioned Gaussian views (rows far from zero), and the seed."""
    batch = draw(st.integers(min_batch, max_batch))
    dim = dim or draw(st.integers(2, 8))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    z1 = rng.normal(size=(batch, dim))
    z2 = z1 + rng.normal(size=(batch, dim))
    return z1.astype("float32"), z2.astype("float32"), rng


def value_and_gradients(fn, *inputs):
    tensors = [tf.constant(x) for x in inputs]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        value = fn(*tensors)
        total = tf.reduce_sum(value)
    gradients = tape.gradient(total, tensors)
    return _np(value), [None if g is None else _np(g) for g in gradients]


def assert_finite(value, gradients=()):
    assert np.isfinite(value).all(), value
    for g in gradients:
        if g is not None:
            assert np.isfinite(g).all(), g


def labels_for(batch, draw):
    return np.asarray(draw(st.lists(st.integers(0, 3), min_size=batch, max_size=batch)))


# Finite outputs (and gradients) for finite inputs --------------------------


@PROPERTY
@given(views=view_pairs(F32_MAX), temperature=st.floats(0.01, 10.0))
def test_cosine_losses_are_finite_for_any_finite_float32(views, temperature):
    # Rows are L2-normalised first, so no magnitude can overflow them; a row
    # whose squared norm overflows float32 normalises to zero (cosine 0).
    z1, z2 = views
    assert_finite(_np(nt_xent(z1, z2, temperature)))
    assert_finite(_np(info_nce(z1, z2, negatives=z2[::-1], temperature=temperature)))
    assert_finite(_np(negative_cosine_similarity(z1, z2)))
    assert_finite(_np(triplet(z1, z2, z2[::-1], distance="cosine")))


@PROPERTY
@given(views=view_pairs(1e4), temperature=st.floats(0.01, 10.0))
def test_cosine_losses_have_finite_gradients(views, temperature):
    # Including all-zero rows, where the direction is undefined.
    z1, z2 = views
    for fn in (
        lambda a, b: nt_xent(a, b, temperature),
        lambda a, b: info_nce(a, b, negatives=b[::-1], temperature=temperature),
        negative_cosine_similarity,
        lambda a, b: triplet(a, b, b[::-1], distance="cosine"),
    ):
        assert_finite(*value_and_gradients(fn, z1, z2))


@PROPERTY
@given(views=view_pairs(1e4), distance=st.sampled_from(DISTANCES), data=st.data())
def test_triplet_losses_are_finite_with_finite_gradients(views, distance, data):
    # 1e4: squared distances up to ~1e9 stay far from float32 overflow.
    z1, z2 = views
    labels = labels_for(len(z1), data.draw)
    assert_finite(
        *value_and_gradients(
            lambda a, b: triplet(a, b, b[::-1], margin=0.5, distance=distance), z1, z2
        )
    )
    for mined in (batch_hard_triplet, batch_semi_hard_triplet):
        value, gradients = value_and_gradients(
            lambda a, m=mined: m(a, labels, margin=0.5, distance=distance), z1
        )
        assert_finite(value, gradients)
        assert (value >= 0).all()


@PROPERTY
@given(views=view_pairs(1e4, min_batch=2))
def test_redundancy_losses_are_finite_with_finite_gradients(views):
    # Constant dimensions (zero variance) and duplicate rows included.
    z1, z2 = views
    for fn in (barlow_twins, vicreg):
        value, gradients = value_and_gradients(fn, z1, z2)
        assert_finite(value, gradients)
        assert (value >= 0).all()
        np.testing.assert_array_equal(value, np.full(len(z1), value[0]))


# NT-Xent and InfoNCE --------------------------------------------------------


@PROPERTY
@given(views=normal_views(), temperature=st.floats(0.05, 2.0))
def test_nt_xent_permutation_equivariant_and_symmetric(views, temperature):
    z1, z2, rng = views
    loss = _np(nt_xent(z1, z2, temperature))
    perm = rng.permutation(len(z1))
    # The same permutation of both views' rows keeps the pairs: the
    # per-pair losses are permuted alike.
    np.testing.assert_allclose(
        _np(nt_xent(z1[perm], z2[perm], temperature)), loss[perm], rtol=1e-5, atol=1e-5
    )
    # Swapping the views swaps the two directions of each pair.
    np.testing.assert_allclose(
        _np(nt_xent(z2, z1, temperature)), loss, rtol=1e-5, atol=1e-5
    )


@PROPERTY
@given(
    views=normal_views(),
    temperature=st.floats(0.05, 2.0),
    log_scale=st.floats(-4.0, 12.0),
)
def test_nt_xent_invariant_to_positive_row_scaling_and_rotation(
    views, temperature, log_scale
):
    # Cosine similarities ignore the length of each row (scales 1e-4..1e12
    # here, per row) and any rotation applied to all rows.
    z1, z2, rng = views
    loss = _np(nt_xent(z1, z2, temperature))
    s1 = 10.0 ** rng.uniform(-4.0, log_scale, size=(len(z1), 1))
    s2 = 10.0 ** rng.uniform(-4.0, log_scale, size=(len(z1), 1))
    scaled = nt_xent(
        (z1 * s1).astype("float32"), (z2 * s2).astype("float32"), temperature
    )
    np.testing.assert_allclose(_np(scaled), loss, rtol=1e-4, atol=1e-4)
    q, _ = np.linalg.qr(rng.normal(size=(z1.shape[1],) * 2))
    rotated = nt_xent(
        (z1 @ q).astype("float32"), (z2 @ q).astype("float32"), temperature
    )
    np.testing.assert_allclose(_np(rotated), loss, rtol=1e-4, atol=1e-4)


@PROPERTY
@given(views=normal_views(min_batch=1), temperature=st.floats(0.05, 2.0))
def test_nt_xent_is_a_bounded_cross_entropy(views, temperature):
    # Each direction is a cross-entropy over 2B - 1 candidates whose logits
    # lie in [-1/t, 1/t]: 0 <= loss <= log(2B - 1) + 2/t.
    z1, z2, _ = views
    loss = _np(nt_xent(z1, z2, temperature))
    bound = math.log(2 * len(z1) - 1) + 2.0 / temperature
    assert (loss >= -1e-6).all() and (loss <= bound * (1 + 1e-6) + 1e-6).all()


@PROPERTY
@given(
    views=normal_views(),
    num_negatives=st.integers(0, 6),
    temperature=st.floats(0.05, 2.0),
)
def test_info_nce_invariances(views, num_negatives, temperature):
    query, key, rng = views
    negatives = None
    if num_negatives:
        negatives = rng.normal(size=(num_negatives, query.shape[1])).astype("float32")
    loss = _np(info_nce(query, key, negatives, temperature))
    perm = rng.permutation(len(query))
    # Permuting the (query, key) pairs permutes the losses.
    np.testing.assert_allclose(
        _np(info_nce(query[perm], key[perm], negatives, temperature)),
        loss[perm],
        rtol=1e-5,
        atol=1e-5,
    )
    # The order of the extra negatives and the length of every row do not
    # matter.
    scale = lambda x: (x * 10.0 ** rng.uniform(-3, 6, (len(x), 1))).astype("float32")
    shuffled = None
    if negatives is not None:
        shuffled = scale(negatives[rng.permutation(num_negatives)])
    np.testing.assert_allclose(
        _np(info_nce(scale(query), scale(key), shuffled, temperature)),
        loss,
        rtol=1e-4,
        atol=1e-4,
    )


# Negative cosine similarity ---------------------------------------------------


@PROPERTY
@given(views=normal_views(min_batch=1))
def test_negative_cosine_similarity_bounds_sign_and_scale(views):
    p, z, rng = views
    loss = _np(negative_cosine_similarity(p, z))
    assert (np.abs(loss) <= 1 + 1e-6).all()
    np.testing.assert_allclose(
        _np(negative_cosine_similarity(p, -z)), -loss, rtol=1e-6, atol=1e-6
    )
    s = 10.0 ** rng.uniform(-4, 8, size=(len(p), 1))
    np.testing.assert_allclose(
        _np(negative_cosine_similarity((p * s).astype("float32"), z)),
        loss,
        rtol=1e-5,
        atol=1e-5,
    )


# Triplet losses -------------------------------------------------------------


@PROPERTY
@given(
    views=normal_views(min_batch=1),
    margin=st.floats(0.0, 2.0),
    distance=st.sampled_from(DISTANCES),
)
def test_triplet_invariances(views, margin, distance):
    anchor, positive, rng = views
    negative = rng.normal(size=anchor.shape).astype("float32")
    loss = _np(triplet(anchor, positive, negative, margin, distance))
    assert (loss >= 0).all()
    # A larger margin never lowers the loss.
    assert (
        _np(triplet(anchor, positive, negative, margin + 0.5, distance)) >= loss
    ).all()
    # Distances are invariant to a rotation of the space; the Euclidean ones
    # to a translation, the cosine one to the length of each row.
    q, _ = np.linalg.qr(rng.normal(size=(anchor.shape[1],) * 2))
    if distance == "cosine":
        move = lambda x: (x * rng.uniform(0.1, 10.0, (len(x), 1)) @ q).astype("float32")
    else:
        shift = rng.normal(size=anchor.shape[1]) * 10
        move = lambda x: (x @ q + shift).astype("float32")
    np.testing.assert_allclose(
        _np(triplet(move(anchor), move(positive), move(negative), margin, distance)),
        loss,
        rtol=1e-4,
        atol=1e-4,
    )


@PROPERTY
@given(
    views=normal_views(min_batch=2, max_batch=10),
    margin=st.floats(0.0, 2.0),
    distance=st.sampled_from(DISTANCES),
    data=st.data(),
)
def test_mined_triplet_losses(views, margin, distance, data):
    embeddings, _, rng = views
    labels = labels_for(len(embeddings), data.draw)
    hard = _np(batch_hard_triplet(embeddings, labels, margin, distance))
    semi = _np(batch_semi_hard_triplet(embeddings, labels, margin, distance))
    # The hardest positive and negative bound every pair's loss, so the
    # batch-hard loss bounds the semi-hard mean over pairs, anchor by anchor.
    assert (semi >= 0).all()
    assert (hard >= semi - 1e-5).all()
    # Anchors alone in their class, or in a batch of one class, give 0.
    counts = np.array([(labels == y).sum() for y in labels])
    lonely = (counts == 1) | (len(np.unique(labels)) == 1)
    np.testing.assert_array_equal(hard[lonely], 0.0)
    np.testing.assert_array_equal(semi[lonely], 0.0)
    # Permuting the examples (with their labels) permutes the losses, and
    # renaming the classes changes nothing.
    perm = rng.permutation(len(embeddings))
    renamed = (labels * 7 + 3)[perm]
    for fn, loss in ((batch_hard_triplet, hard), (batch_semi_hard_triplet, semi)):
        np.testing.assert_allclose(
            _np(fn(embeddings[perm], renamed, margin, distance)),
            loss[perm],
            rtol=1e-5,
            atol=1e-5,
        )


# Barlow Twins and VICReg ----------------------------------------------------


@PROPERTY
@given(views=normal_views(min_batch=3, max_batch=12), lambda_=st.floats(0.0, 1.0))
def test_barlow_twins_invariances(views, lambda_):
    z1, z2, rng = views
    loss = _np(barlow_twins(z1, z2, lambda_, eps=1e-12))[0]
    np.testing.assert_allclose(
        _np(barlow_twins(z2, z1, lambda_, eps=1e-12))[0], loss, rtol=1e-5
    )
    # Standardisation removes any per-dimension positive scale and shift of
    # either view; permuting the examples or (jointly) the dimensions, or
    # flipping the sign of one dimension in both views, changes nothing.
    dim = z1.shape[1]
    a1, a2 = 10.0 ** rng.uniform(-1, 2, (2, dim))
    b1, b2 = rng.normal(size=(2, dim)) * 100
    perm, dims = rng.permutation(len(z1)), rng.permutation(dim)
    sign = np.where(rng.random(dim) < 0.5, -1.0, 1.0)
    moved_1 = ((z1 * a1 + b1) * sign)[perm][:, dims].astype("float32")
    moved_2 = ((z2 * a2 + b2) * sign)[perm][:, dims].astype("float32")
    np.testing.assert_allclose(
        _np(barlow_twins(moved_1, moved_2, lambda_, eps=1e-12))[0],
        loss,
        rtol=2e-3,
        atol=2e-3,
    )


@PROPERTY
@given(
    views=normal_views(min_batch=2, max_batch=12),
    weights=st.tuples(*[st.floats(0.0, 30.0)] * 3),
)
def test_vicreg_invariances(views, weights):
    z1, z2, rng = views
    kwargs = dict(zip(("sim_weight", "var_weight", "cov_weight"), weights))
    loss = _np(vicreg(z1, z2, **kwargs))[0]
    np.testing.assert_allclose(_np(vicreg(z2, z1, **kwargs))[0], loss, rtol=1e-5)
    # The same translation of both views, a permutation of the examples and
    # a joint permutation of the dimensions change nothing.
    shift = rng.normal(size=z1.shape[1]) * 10
    perm, dims = rng.permutation(len(z1)), rng.permutation(z1.shape[1])
    moved_1 = (z1 + shift)[perm][:, dims].astype("float32")
    moved_2 = (z2 + shift)[perm][:, dims].astype("float32")
    np.testing.assert_allclose(
        _np(vicreg(moved_1, moved_2, **kwargs))[0], loss, rtol=1e-4, atol=1e-4
    )
