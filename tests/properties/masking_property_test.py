"""Property-based tests of the masking layers: exact counts and rates.

`tests/augmentation/token_masker_test.py` and
`tests/layers/random_patch_masking_test.py` check one configuration each on
fixed batches; these draw the configuration (vocabulary, special tokens,
rates, lengths, seeds) and the batch, and check the invariants and the
statistics that must hold for every draw. Statistical checks use bounds of
5 or 6 binomial standard deviations (false alarms below 1e-6 per check).
"""

import math
import os

import keras
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from keras_ssl.augmentation import TokenMasker
from keras_ssl.layers import RandomPatchMasking

# No example database: tests must not write into the repository. Set
# KERAS_SSL_PROPERTY_EXAMPLES to search longer (e.g. 1000 in a nightly run).
PROPERTY = settings(
    max_examples=int(os.environ.get("KERAS_SSL_PROPERTY_EXAMPLES", "25")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PAD = 0


def _np(outputs):
    return {k: keras.ops.convert_to_numpy(v) for k, v in outputs.items()}


def within_binomial(count, n, p, sigmas):
    """`count` is within `sigmas` standard deviations of Binomial(n, p)."""
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 0.5


@st.composite
def masker_configs(draw, mask_in_specials=None):
    """Keyword arguments of a `TokenMasker` and its vocabulary's specials."""
    vocabulary_size = draw(st.integers(12, 300))
    specials = sorted(
        {PAD, *draw(st.lists(st.integers(1, 10), min_size=1, max_size=5))}
    )
    if mask_in_specials is None:
        mask_in_specials = draw(st.booleans())
    if mask_in_specials:
        mask_token_id = draw(st.sampled_from(specials))
    else:
        mask_token_id = draw(st.integers(11, vocabulary_size - 1))
    sequence_length = draw(st.integers(2, 40))
    mask_token_rate = draw(st.floats(0.0, 1.0))
    random_token_rate = draw(st.floats(0.0, 1.0 - mask_token_rate))
    max_predictions = draw(st.none() | st.integers(1, sequence_length))
    return dict(
        vocabulary_size=vocabulary_size,
        mask_token_id=mask_token_id,
        special_token_ids=specials,
        sequence_length=sequence_length,
        mask_rate=draw(st.floats(0.01, 0.99)),
        max_predictions=max_predictions,
        mask_token_rate=mask_token_rate,
        random_token_rate=random_token_rate,
        seed=draw(st.integers(0, 2**31 - 1)),
    )


@st.composite
def token_batches(draw, config):
    """Rows of random ids (specials included), padded after a random length."""
    batch = draw(st.integers(1, 12))
    length = config["sequence_length"]
    ids = draw(
        hnp.arrays(
            "int32",
            (batch, length),
            elements=st.integers(0, config["vocabulary_size"] - 1),
        )
    )
    lengths = draw(hnp.arrays("int32", (batch,), elements=st.integers(0, length)))
    ids[np.arange(length)[None, :] >= lengths[:, None]] = PAD
    return ids


def expected_counts(masker, ids):
    """`round(rate * n)` in float32 (half to even), in [1, max_predictions]."""
    selectable = ~np.isin(ids, masker.special_token_ids)
    n = selectable.sum(axis=1).astype("float32")
    count = np.round(np.float32(masker.mask_rate) * n)
    count = np.clip(count, 1, masker.max_predictions)
    return np.where(n > 0, count, 0).astype(int), selectable


@PROPERTY
@given(data=st.data())
def test_token_masker_invariants_hold_for_any_batch(data):
    config = data.draw(masker_configs())
    ids = data.draw(token_batches(config))
    masker = TokenMasker(**config)
    out = _np(masker(ids))
    counts, selectable = expected_counts(masker, ids)
    specials = masker.special_token_ids
    p = masker.max_predictions
    assert out["mask_positions"].shape == out["mask_weights"].shape == (len(ids), p)
    # Exactly the prescribed number of predictions per row, ...
    np.testing.assert_array_equal(out["mask_weights"].sum(axis=1), counts)
    # ... at the front of the prediction slots, ...
    np.testing.assert_array_equal(
        out["mask_weights"], (np.arange(p)[None, :] < counts[:, None]).astype("float32")
    )
    # ... and their targets are the original ids there.
    np.testing.assert_array_equal(
        out["mask_ids"], np.take_along_axis(ids, out["mask_positions"], axis=1)
    )
    chosen = np.zeros(ids.shape, bool)
    for row in range(len(ids)):
        positions = out["mask_positions"][row, : counts[row]]
        assert len(set(positions.tolist())) == counts[row]  # distinct
        chosen[row, positions] = True
    # Special and padding tokens are never chosen; nothing else changes.
    assert not (chosen & ~selectable).any()
    np.testing.assert_array_equal(out["token_ids"][~chosen], ids[~chosen])
    # A chosen token becomes [MASK], stays, or becomes a non-special id.
    new, old = out["token_ids"][chosen], ids[chosen]
    other = (new != config["mask_token_id"]) & (new != old)
    assert not np.isin(new[other], specials).any()
    assert ((new >= 0) & (new < config["vocabulary_size"])).all()


@PROPERTY
@given(config=masker_configs(mask_in_specials=True), seed=st.integers(0, 2**31 - 1))
def test_token_masker_replacement_split_within_binomial_bounds(config, seed):
    # Fresh uniform draws per chosen token: the [MASK] / random / unchanged
    # counts are binomial around mask_token_rate, random_token_rate * (R-1)/R
    # and the rest (a random token equals the original with chance 1/R).
    rng = np.random.default_rng(seed)
    config = dict(config, sequence_length=32, max_predictions=None, mask_rate=0.3)
    masker = TokenMasker(**config)
    regular = [
        i for i in range(config["vocabulary_size"]) if i not in masker.special_token_ids
    ]
    ids = rng.choice(regular, size=(256, 32)).astype("int32")
    out = _np(masker(ids))
    weights = out["mask_weights"] > 0
    old = out["mask_ids"][weights]
    new = np.take_along_axis(out["token_ids"], out["mask_positions"], axis=1)[weights]
    n = len(old)
    assert n == 256 * round(0.3 * 32)
    m, r, size = masker.mask_token_rate, masker.random_token_rate, len(regular)
    masked = int((new == config["mask_token_id"]).sum())
    unchanged = int((new == old).sum())
    randomised = n - masked - unchanged
    assert within_binomial(masked, n, m, 5), (masked, n, m)
    assert within_binomial(randomised, n, r * (size - 1) / size, 5)
    assert within_binomial(unchanged, n, 1 - m - r + r / size, 5)


@PROPERTY
@given(
    config=masker_configs(),
    row=st.data(),
)
def test_token_masker_chooses_every_selectable_position_equally(config, row):
    # The same row 2,000 times: each selectable position is chosen in a
    # fraction count / n of the copies (no positional bias), specials never.
    masker = TokenMasker(**config)
    ids = row.draw(token_batches(config))[:1]
    copies = 2000
    out = _np(masker(np.repeat(ids, copies, axis=0)))
    counts, selectable = expected_counts(masker, ids)
    hits = np.zeros(ids.shape[1])
    for slot in range(masker.max_predictions):
        chosen = out["mask_weights"][:, slot] > 0
        np.add.at(hits, out["mask_positions"][chosen, slot], 1)
    n = selectable[0].sum()
    assert (hits[~selectable[0]] == 0).all()
    if n:
        rate = counts[0] / n
        for position in np.flatnonzero(selectable[0]):
            assert within_binomial(hits[position], copies, rate, 6), (position, rate)


@PROPERTY
@given(
    num_patches=st.integers(2, 128),
    mask_ratio=st.floats(0.01, 0.99),
    batch=st.integers(1, 6),
    dim=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
)
def test_patch_masking_counts_and_indices_are_exact(
    num_patches, mask_ratio, batch, dim, seed
):
    layer = RandomPatchMasking(num_patches, mask_ratio, seed=seed)
    visible = layer.num_visible
    # round((1 - ratio) * n), kept within [1, n - 1] so both sets are non-empty.
    ideal = (1 - mask_ratio) * num_patches
    assert 1 <= visible <= num_patches - 1
    assert abs(visible - ideal) <= 0.5 or visible in (1, num_patches - 1)
    tokens = np.random.default_rng(seed).normal(size=(batch, num_patches, dim))
    out = _np(layer(tokens.astype("float32")))
    mask, restore = out["mask"], out["restore_indices"]
    indices = out["visible_indices"]
    assert out["visible"].shape == (batch, visible, dim)
    np.testing.assert_array_equal(mask.sum(axis=1), num_patches - visible)
    for b in range(batch):
        # `restore` is a permutation; a visible patch's slot in the shuffled
        # order is its rank among the visible ones; hidden patches follow.
        np.testing.assert_array_equal(np.sort(restore[b]), np.arange(num_patches))
        np.testing.assert_array_equal(restore[b, indices[b]], np.arange(visible))
        np.testing.assert_array_equal(mask[b], (restore[b] >= visible).astype(float))
        np.testing.assert_allclose(out["visible"][b], tokens[b, indices[b]], rtol=1e-6)


@PROPERTY
@given(
    num_patches=st.integers(2, 64),
    mask_ratio=st.floats(0.05, 0.95),
    seed=st.integers(0, 2**31 - 1),
)
def test_patch_masking_hides_every_position_equally(num_patches, mask_ratio, seed):
    copies = 2000
    layer = RandomPatchMasking(num_patches, mask_ratio, seed=seed)
    mask = _np(layer(np.zeros((copies, num_patches, 1), "float32")))["mask"]
    rate = (num_patches - layer.num_visible) / num_patches
    for position, hidden in enumerate(mask.sum(axis=0)):
        assert within_binomial(hidden, copies, rate, 6), (position, hidden, rate)
