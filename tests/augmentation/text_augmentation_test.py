"""Text views: token deletion, token swap, span crop and synonym replacement."""

import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.augmentation.random_span_crop import RandomSpanCrop
from keras_ssl.augmentation.random_token_deletion import RandomTokenDeletion
from keras_ssl.augmentation.random_token_swap import RandomTokenSwap
from keras_ssl.augmentation.synonym_replacement import SynonymReplacement
from keras_ssl.datasets import wordnet
from keras_ssl.datasets.wordnet_synonyms import wordnet_synonyms
from keras_ssl.testing import TestCase

PAD, CLS, SEP = 0, 1, 2
SPECIALS = [CLS, SEP]
VOCAB = 100
LENGTH = 24


def make_batch(batch=64, length=LENGTH, seed=0, num_real=None, distinct=True):
    """`[CLS] words... [SEP] [PAD]...` rows of distinct (or random) words.

    Row 0 has no word and row 1 a single one; the others have a random
    number of words (or `num_real` of them).
    """
    rng = np.random.default_rng(seed)
    ids = np.full((batch, length), PAD, dtype="int32")
    for row in range(batch):
        if num_real is not None:
            n = num_real
        else:
            n = 0 if row == 0 else 1 if row == 1 else rng.integers(2, length - 1)
        if distinct:
            words = rng.choice(np.arange(3, VOCAB), size=n, replace=False)
        else:
            words = rng.integers(3, VOCAB, size=n)
        ids[row, : n + 2] = [CLS, *words, SEP]
    return ids


def real(row):
    return row[~np.isin(row, [PAD, *SPECIALS])]


def assert_packed(out_row, expected_real):
    """The row is exactly `[CLS] expected_real [SEP] [PAD]...`."""
    expected = np.full_like(out_row, PAD)
    expected[: len(expected_real) + 2] = [CLS, *expected_real, SEP]
    np.testing.assert_array_equal(out_row, expected)


def is_subsequence(small, big):
    it = iter(big.tolist())
    return all(any(x == y for y in it) for x in small.tolist())


def np_out(x):
    return keras.ops.convert_to_numpy(x)


TOKEN_LAYERS = {
    "deletion": lambda seed=0, **kw: RandomTokenDeletion(
        kw.pop("rate", 0.3), PAD, SPECIALS, seed=seed, **kw
    ),
    "swap": lambda seed=0, **kw: RandomTokenSwap(
        kw.pop("num_swaps", 2),
        pad_token_id=PAD,
        special_token_ids=SPECIALS,
        seed=seed,
        **kw,
    ),
    "swap_rate": lambda seed=0, **kw: RandomTokenSwap(
        rate=0.2, pad_token_id=PAD, special_token_ids=SPECIALS, seed=seed, **kw
    ),
    "span_crop": lambda seed=0, **kw: RandomSpanCrop(
        0.3, 0.8, PAD, SPECIALS, seed=seed, **kw
    ),
}


# ---------------------------------------------------------------------------
# Contract shared by the token-id layers.


@pytest.mark.parametrize("name", sorted(TOKEN_LAYERS))
@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_token_layers_keep_shape_dtype_and_vary(name, dtype):
    ids = make_batch().astype(dtype)
    layer = TOKEN_LAYERS[name]()
    first, second = np_out(layer(ids)), np_out(layer(ids))
    assert first.shape == ids.shape and first.dtype == np.dtype(dtype)
    assert not np.array_equal(first, ids)
    assert not np.array_equal(first, second)  # Fresh randomness each call.
    # Padding stays at the end; [CLS] and [SEP] are kept.
    for row in first:
        n = len(real(row))
        assert row[0] == CLS and row[n + 1] == SEP and (row[n + 2 :] == PAD).all()


@pytest.mark.parametrize("name", sorted(TOKEN_LAYERS))
def test_token_layers_same_seed_same_views(name):
    ids = make_batch()
    a, b = TOKEN_LAYERS[name](seed=5), TOKEN_LAYERS[name](seed=5)
    for _ in range(2):
        np.testing.assert_array_equal(np_out(a(ids)), np_out(b(ids)))
    other = TOKEN_LAYERS[name](seed=6)
    assert not np.array_equal(
        np_out(other(ids)), np_out(TOKEN_LAYERS[name](seed=5)(ids))
    )


@pytest.mark.parametrize("name", sorted(TOKEN_LAYERS))
def test_token_layers_identity_in_inference(name):
    ids = make_batch()
    np.testing.assert_array_equal(
        np_out(TOKEN_LAYERS[name]()(ids, training=False)), ids
    )


@pytest.mark.parametrize("name", sorted(TOKEN_LAYERS))
def test_token_layers_in_tf_data_and_xla(name):
    ids = make_batch(batch=8)
    layer = TOKEN_LAYERS[name]()
    ds = tf.data.Dataset.from_tensor_slices(ids).batch(4).map(layer)
    batches = [b.numpy() for b in ds]
    assert [b.shape for b in batches] == [(4, LENGTH), (4, LENGTH)]
    for out, inp in zip(np.concatenate(batches), ids):
        assert set(real(out)) <= set(real(inp))  # Rows of distinct tokens.
    out = tf.function(layer, jit_compile=True)(tf.constant(ids))
    assert tuple(out.shape) == ids.shape
    # Unknown batch size and length (no static bound for the swap loop).
    spec = tf.TensorSpec((None, None), tf.int32)
    out = tf.function(lambda x: layer(x), input_signature=[spec])(ids)
    assert tuple(out.shape) == ids.shape


def token_model(layer):
    inputs = keras.Input((LENGTH,), dtype="int32")
    x = layer(inputs)
    x = keras.layers.Embedding(VOCAB, 4)(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(1)(x))


@pytest.mark.parametrize("name", sorted(TOKEN_LAYERS))
def test_token_layers_in_train_step_and_keras_file(name, tmp_path):
    layer = TOKEN_LAYERS[name]()
    model = token_model(layer)
    assert layer.compute_output_spec(model.inputs[0]).dtype == "int32"
    model.compile(optimizer="sgd", loss="mse")
    ids = make_batch(batch=8)
    history = model.fit(ids, np.zeros((8, 1)), batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    restored = TestCase.assert_keras_round_trip(model, ids, tmp_path)
    assert type(restored.layers[1]) is type(layer)


class TestTokenLayerConfigs(TestCase):
    @pytest.mark.parametrize("name", sorted(TOKEN_LAYERS))
    def test_config_round_trip(self, name):
        layer = TOKEN_LAYERS[name](seed=3)
        restored = self.assert_serialization_round_trip(layer)
        assert restored.special_token_ids == SPECIALS
        assert restored.pad_token_id == PAD
        assert restored.seed == 3


@pytest.mark.parametrize("name", sorted(TOKEN_LAYERS))
@pytest.mark.parametrize(
    "bad", [np.zeros((2, 3, LENGTH), "int32"), np.zeros((LENGTH,), "int32")]
)
def test_token_layers_reject_wrong_rank(name, bad):
    with pytest.raises(ValueError, match="token_ids.shape"):
        TOKEN_LAYERS[name]()(bad)


@pytest.mark.parametrize("name", sorted(TOKEN_LAYERS))
def test_token_layers_reject_float_ids(name):
    with pytest.raises(ValueError, match="token_ids.dtype=float32"):
        TOKEN_LAYERS[name]()(np.zeros((2, LENGTH), "float32"))


@pytest.mark.parametrize("name", sorted(TOKEN_LAYERS))
@pytest.mark.parametrize(
    "kwargs, arg",
    [
        (dict(pad_token_id=-1), "pad_token_id"),
        (dict(pad_token_id=0.0), "pad_token_id"),
        (dict(pad_token_id=True), "pad_token_id"),
        (dict(special_token_ids=[1, "2"]), "special_token_ids"),
        (dict(special_token_ids=[1.5]), "special_token_ids"),
        (dict(special_token_ids=7), "special_token_ids"),
        (dict(special_token_ids="12"), "special_token_ids"),
    ],
)
def test_token_layers_reject_bad_ids(name, kwargs, arg):
    defaults = dict(pad_token_id=PAD, special_token_ids=SPECIALS, seed=0)
    defaults.update(kwargs)
    cls = type(TOKEN_LAYERS[name]())
    with pytest.raises(ValueError, match=rf"`{arg}`.*Received: {arg}="):
        cls(**defaults)


# ---------------------------------------------------------------------------
# RandomTokenDeletion.


def test_deletion_rate_and_order():
    rate = 0.3
    ids = make_batch(batch=512, length=48, seed=1)
    out = np_out(RandomTokenDeletion(rate, PAD, SPECIALS, seed=0)(ids))
    total = deleted = 0
    for inp, row in zip(ids, out):
        before, after = real(inp), real(row)
        assert is_subsequence(after, before)  # Survivors keep their order.
        assert_packed(row, after)
        if len(before) >= 10:  # Rescues (all drawn for deletion) negligible.
            total += len(before)
            deleted += len(before) - len(after)
    # About 12,000 tokens: the standard deviation is 0.4 points; allow 4 sd.
    assert total > 10_000
    assert abs(deleted / total - rate) < 4 * math.sqrt(rate * (1 - rate) / total)


def test_deletion_keeps_at_least_one_real_token():
    ids = make_batch(batch=256, seed=2)
    ids[2:40, 4:] = PAD  # Rows with 2 words: both often drawn at rate 0.95.
    ids[2:40, 3] = SEP
    out = np_out(RandomTokenDeletion(0.95, PAD, SPECIALS, seed=0)(ids))
    kept = [len(real(row)) for row in out]
    assert kept[0] == 0  # Nothing to keep.
    assert kept[1] == 1 and real(out[1]) == real(ids[1])
    assert min(kept[1:]) == 1
    assert kept.count(1) > 100  # The rescue is exercised.
    # The rescued token is uniform among the row's tokens.
    firsts = [real(o)[0] == real(i)[0] for o, i in zip(out[2:40], ids[2:40])]
    assert 5 < sum(firsts) < 33


def test_deletion_rate_zero_is_identity():
    ids = make_batch()
    out = RandomTokenDeletion(0.0, PAD, SPECIALS, seed=0)(ids)
    np.testing.assert_array_equal(np_out(out), ids)


def test_deletion_never_removes_special_tokens_inside_a_row():
    mask = 4
    ids = np.array([[CLS, 5, mask, 6, mask, 7, SEP, PAD]] * 32, "int32")
    out = np_out(RandomTokenDeletion(0.5, PAD, [CLS, SEP, mask], seed=0)(ids))
    assert ((out == mask).sum(axis=1) == 2).all()


@pytest.mark.parametrize("rate", [1, 1.0, -0.1, 2, "0.1", None])
def test_deletion_bad_rate(rate):
    with pytest.raises(ValueError, match="Argument `rate`.*Received: rate="):
        RandomTokenDeletion(rate)


# ---------------------------------------------------------------------------
# RandomTokenSwap.


def permutation_parity(before, after):
    """Parity of the permutation turning `before` into `after` (distinct)."""
    position = {v: i for i, v in enumerate(before.tolist())}
    perm = [position[v] for v in after.tolist()]
    seen, parity = set(), 0
    for start in range(len(perm)):
        length = 0
        while start not in seen:
            seen.add(start)
            start = perm[start]
            length += 1
        parity += max(length - 1, 0)
    return parity % 2


def test_swap_preserves_multiset_and_special_positions():
    ids = make_batch(batch=128, seed=3, distinct=False)
    out = np_out(RandomTokenSwap(3, None, PAD, SPECIALS, seed=0)(ids))
    special = np.isin(ids, [PAD, *SPECIALS])
    np.testing.assert_array_equal(out[special], ids[special])
    for inp, row in zip(ids, out):
        np.testing.assert_array_equal(np.sort(row), np.sort(inp))


@pytest.mark.parametrize("num_swaps", [1, 3])
def test_swap_count_by_parity(num_swaps):
    # Rows of distinct tokens: each swap is one transposition.
    ids = make_batch(batch=128, seed=4)
    out = np_out(RandomTokenSwap(num_swaps, None, PAD, SPECIALS, seed=0)(ids))
    for row, (inp, res) in enumerate(zip(ids, out)):
        if len(real(inp)) < 2:
            np.testing.assert_array_equal(res, inp)  # Nothing to swap.
        else:
            assert permutation_parity(real(inp), real(res)) == num_swaps % 2, row
    if num_swaps == 1:
        changed = (out != ids).sum(axis=1)
        assert (changed[2:] == 2).all()


def test_swap_rate_gives_round_rate_times_n_swaps():
    rate = 0.25
    ids = make_batch(batch=128, seed=5)
    out = np_out(RandomTokenSwap(rate=rate, pad_token_id=PAD, seed=0)(ids))
    # Without `special_token_ids`, [CLS] and [SEP] are real tokens too.
    for inp, res in zip(ids, out):
        n = int((inp != PAD).sum())
        expected = max(1, int(np.round(rate * n)))
        assert permutation_parity(inp[:n], res[:n]) == expected % 2


def test_swap_positions_are_uniform():
    ids = make_batch(batch=2000, num_real=10, seed=6)
    out = np_out(RandomTokenSwap(1, None, PAD, SPECIALS, seed=0)(ids))
    moved = (out != ids).sum(axis=0)[1:11]
    # Each position is in the swapped pair with probability 2/10: 400 +- 18.
    assert np.abs(moved - 400).max() < 80


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        (dict(num_swaps=-1), "num_swaps"),
        (dict(num_swaps=1.5), "num_swaps"),
        (dict(num_swaps=True), "num_swaps"),
        (dict(rate=1.5), "rate"),
        (dict(rate=-0.1), "rate"),
        (dict(num_swaps=2, rate=0.1), "num_swaps"),
    ],
)
def test_swap_bad_arguments(kwargs, arg):
    with pytest.raises(ValueError, match=rf"`{arg}`.*Received: {arg}="):
        RandomTokenSwap(**kwargs)


def test_swap_zero_swaps_is_identity():
    ids = make_batch()
    for layer in (RandomTokenSwap(0), RandomTokenSwap(rate=0.0)):
        np.testing.assert_array_equal(np_out(layer(ids)), ids)


# ---------------------------------------------------------------------------
# RandomSpanCrop.


def test_span_crop_is_contiguous_with_length_in_range():
    low, high = 0.25, 0.75
    ids = make_batch(batch=512, length=32, seed=7)
    out = np_out(RandomSpanCrop(low, high, PAD, SPECIALS, seed=0)(ids))
    for inp, row in zip(ids, out):
        before, after = real(inp).tolist(), real(row)
        assert_packed(row, after)
        n, k = len(before), len(after)
        if n == 0:
            assert k == 0
            continue
        lo = max(1, math.ceil(low * n))
        assert lo <= k <= max(lo, math.floor(high * n)), (n, k)
        start = before.index(after[0])
        assert before[start : start + k] == after.tolist()


def test_span_crop_length_and_start_are_uniform():
    n = 20
    ids = make_batch(batch=3000, length=n + 2, num_real=n, seed=8)
    out = np_out(RandomSpanCrop(0.25, 0.75, PAD, SPECIALS, seed=0)(ids))
    lengths = np.array([len(real(row)) for row in out])
    counts = np.bincount(lengths, minlength=n + 1)[5:16]  # 11 lengths in [5, 15].
    assert counts.sum() == len(ids)
    assert counts.min() > 200 and counts.max() < 350  # 273 expected each.
    # For length 10 there are 11 starts, about 25 times each.
    starts = [
        int(np.flatnonzero(ids[i] == real(out[i])[0])[0]) - 1
        for i in np.flatnonzero(lengths == 10)
    ]
    assert set(starts) == set(range(11))


def test_span_crop_full_fraction_is_identity():
    ids = make_batch()
    out = np_out(RandomSpanCrop(1.0, 1.0, PAD, SPECIALS, seed=0)(ids))
    np.testing.assert_array_equal(out, ids)


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        (dict(min_fraction=0.0), "min_fraction"),
        (dict(min_fraction=-0.5), "min_fraction"),
        (dict(min_fraction="0.5"), "min_fraction"),
        (dict(max_fraction=1.5), "max_fraction"),
        (dict(min_fraction=0.8, max_fraction=0.5), "max_fraction"),
    ],
)
def test_span_crop_bad_fractions(kwargs, arg):
    with pytest.raises(ValueError, match=rf"`{arg}`.*Received: .*{arg}="):
        RandomSpanCrop(**kwargs)


# ---------------------------------------------------------------------------
# SynonymReplacement.

SYNONYMS = {"quick": ["fast", "speedy"], "Dog": ["hound"], "happy": ["glad"]}


def as_text(x):
    return [s.decode() for s in np_out(x).tolist()]


def test_synonyms_replace_all_at_rate_one():
    layer = SynonymReplacement(SYNONYMS, rate=1.0, seed=0)
    out = as_text(
        layer(["The Quick brown dog.", "  (DOG), happy!  ", "", "no match here"])
    )
    assert out[0] in ("The fast brown hound.", "The speedy brown hound.")
    assert out[1] == "(hound), glad!"
    assert out[2] == ""
    assert out[3] == "no match here"
    # Odd bytes are left alone rather than garbled.
    odd = [b"\xff\xfedog dog\xff", b"dog\x00dog Dog\x00dog", b"\xc3\x9cber dog"]
    out = np_out(SynonymReplacement({"über": ["super"]}, 1.0)(tf.constant(odd)))
    assert out.tolist() == odd[:2] + [b"super dog"]


def test_synonym_rate_and_uniform_choice():
    sentence = " ".join(["quick dog"] * 1000)
    out = as_text(SynonymReplacement(SYNONYMS, rate=0.3, seed=0)([sentence] * 4))
    words = " ".join(out).split()
    replaced = sum(w != "quick" for w in words[::2]) + sum(
        w != "dog" for w in words[1::2]
    )
    # 8,000 words: the standard deviation is 0.5 points; allow 4 sd.
    assert abs(replaced / 8000 - 0.3) < 0.02
    fast, speedy = words.count("fast"), words.count("speedy")
    assert abs(fast / (fast + speedy) - 0.5) < 0.05
    assert set(words) == {"quick", "dog", "fast", "speedy", "hound"}


def test_synonyms_seed_training_and_tf_data():
    sentences = np.array(["a quick dog"] * 8 + ["happy happy dog"] * 8)
    a = SynonymReplacement(SYNONYMS, rate=0.5, seed=1)
    b = SynonymReplacement(SYNONYMS, rate=0.5, seed=1)
    first = as_text(a(sentences))
    assert first == as_text(b(sentences))
    assert first != as_text(a(sentences))
    assert as_text(a(sentences, training=False)) == sentences.tolist()
    ds = tf.data.Dataset.from_tensor_slices(sentences).batch(8).map(a)
    out = [s.decode() for batch in ds for s in batch.numpy()]
    assert len(out) == 16 and all(len(s.split()) == 3 for s in out)
    graph = tf.function(lambda x: a(x, training=True))
    assert len(as_text(graph(tf.constant(sentences)))) == 16


def synonym_model(layer):
    inputs = keras.Input((), dtype="string")
    x = keras.layers.Hashing(16)(layer(inputs))
    x = keras.layers.Embedding(16, 4)(x)
    return keras.Model(inputs, keras.layers.Dense(1)(x))


def test_synonyms_in_train_step_and_keras_file(tmp_path):
    layer = SynonymReplacement(SYNONYMS, rate=0.5, seed=0)
    model = synonym_model(layer)
    model.compile(optimizer="sgd", loss="mse")
    x = np.array(["a quick dog", "happy", "the dog", "quick quick"])
    ds = tf.data.Dataset.from_tensor_slices((x, np.zeros((4, 1)))).batch(2)
    history = model.fit(ds, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])
    restored = TestCase.assert_keras_round_trip(model, tf.constant(x), tmp_path)
    assert dict(restored.layers[1].synonyms) == dict(layer.synonyms)


class TestSynonymConfig(TestCase):
    def test_config_round_trip_normalises_synonyms(self):
        layer = SynonymReplacement(
            {"Quick": ("fast", "quick", "fast"), "quick": ["rapid  pace"]},
            rate=0.2,
            seed=3,
        )
        assert dict(layer.synonyms) == {"quick": ["fast", "rapid pace"]}
        restored = self.assert_serialization_round_trip(layer)
        assert dict(restored.synonyms) == {"quick": ["fast", "rapid pace"]}
        assert restored.rate == 0.2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(synonyms=[("a", ["b"])]), "`synonyms` must be a dict"),
        (dict(synonyms={"two words": ["x"]}), "single word"),
        (dict(synonyms={"": ["x"]}), "single word"),
        (dict(synonyms={1: ["x"]}), "single word"),
        (dict(synonyms={"a": "b"}), r"list of strings.*synonyms\['a'\]"),
        (dict(synonyms={"a": ["b", 3]}), "non-empty string"),
        (dict(synonyms={"a": ["A"], "b": []}), "at least one word"),
        (dict(synonyms={"a": ["b"]}, rate=1.5), "Received: rate=1.5"),
        (dict(synonyms={"a": ["b"]}, rate="0.1"), "Received: rate="),
    ],
)
def test_synonyms_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SynonymReplacement(**kwargs)


@pytest.mark.parametrize(
    "bad, dtype",
    [(np.array([[1, 2]]), "int64"), (np.array([["a", "b"]]), "string")],
)
def test_synonyms_reject_wrong_input(bad, dtype):
    with pytest.raises(ValueError, match=f"sentences.dtype={dtype}"):
        SynonymReplacement(SYNONYMS)(bad)


# ---------------------------------------------------------------------------
# wordnet_synonyms.

HEADER = "  1 This software and database is being provided to you  \n  2   \n"


def write_data_file(directory, name, synsets):
    """Writes `data.<name>` with one synset per list of lemmas."""
    lines = [
        f"{i + 1:08d} 00 a {len(lemmas):02x} "
        + " ".join(f"{lemma} 0" for lemma in lemmas)
        + " 000 | a gloss  \n"
        for i, lemmas in enumerate(synsets)
    ]
    (directory / f"data.{name}").write_text(HEADER + "".join(lines))


def test_wordnet_synonyms_from_tiny_files(tmp_path):
    write_data_file(
        tmp_path,
        "adj",
        [
            ["fast", "quick(a)", "speedy", "rapid_fire"],
            ["Quick", "nimble", "fast(p)"],
            ["lonely", "lonesome_dove"],
        ],
    )
    write_data_file(tmp_path, "adv", [["fast", "swiftly"]])
    adj = wordnet_synonyms(tmp_path, pos="adj")
    # "quick" shares two synsets with "fast", one with the others; multiword
    # lemmas are skipped, so "lonely" has no synonym and is left out.
    assert adj == {
        "fast": ["quick", "speedy", "nimble"],
        "nimble": ["quick", "fast"],
        "quick": ["fast", "speedy", "nimble"],
        "speedy": ["fast", "quick"],
    }
    both = wordnet_synonyms(tmp_path, pos=("adv", "adj"), max_synonyms=2)
    assert both["fast"] == ["quick", "speedy"]
    assert both["swiftly"] == ["fast"]


def test_wordnet_synonyms_bad_arguments(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="Received: max_synonyms=0"):
        wordnet_synonyms(max_synonyms=0)
    with pytest.raises(ValueError, match="Received: pos='adjective'"):
        wordnet_synonyms(pos="adjective")
    monkeypatch.delenv(wordnet.ENV_VAR, raising=False)
    monkeypatch.setattr(wordnet, "DEFAULT_DIRS", (str(tmp_path / "nothing"),))
    with pytest.raises(FileNotFoundError, match="data.noun"):
        wordnet_synonyms(tmp_path)


@pytest.mark.skipif(
    not os.path.isfile("/usr/share/wordnet/data.noun"),
    reason="needs `apt-get install wordnet-base`",
)
def test_wordnet_synonyms_debian_data():
    synonyms = wordnet_synonyms()
    assert len(synonyms) > 40_000
    assert "automobile" in synonyms["car"] and "speedy" in synonyms["quick"]
    for word, words in synonyms.items():
        assert word == word.lower() and " " not in word and "_" not in word
        assert 1 <= len(words) <= 8 and word not in words
        assert len(set(words)) == len(words)
    layer = SynonymReplacement(synonyms, rate=1.0, seed=0)
    out = as_text(layer(["the car was quick"]))[0].split()
    assert out[1] in synonyms["car"] and out[3] in synonyms["quick"]
