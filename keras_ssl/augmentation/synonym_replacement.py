"""In-graph synonym replacement on raw sentences (EDA synonym replacement)."""

import types

import keras
import tensorflow as tf

from keras_ssl.checks import check_fraction

# ASCII punctuation around a word ("(dog)," -> "(", "dog", "),") is kept
# aside while matching and put back around the replacement.
_PUNCT = "[[:punct:]]"
_AFFIXES = f"^({_PUNCT}*)(.*?)({_PUNCT}*)$"


def _normalize_synonyms(synonyms):
    """Checks `synonyms` and returns `{lowercase word: [synonym, ...]}`.

    Keys are lowercased (entries that collide are merged), synonyms keep
    their spelling, duplicates and the word itself are dropped (order kept),
    and words left without a synonym are dropped.
    """
    if not isinstance(synonyms, dict):
        raise ValueError(
            "Argument `synonyms` must be a dict mapping a word to a list of "
            f"synonyms. Received: synonyms of type {type(synonyms).__name__}"
        )
    merged = {}
    for word, words in synonyms.items():
        if not isinstance(word, str) or not word.strip() or len(word.split()) != 1:
            raise ValueError(
                "Every key of `synonyms` must be a single word (a non-empty "
                f"string without whitespace). Received: key {word!r}"
            )
        if isinstance(words, str) or not isinstance(words, list | tuple):
            raise ValueError(
                "Every value of `synonyms` must be a list of strings. "
                f"Received: synonyms[{word!r}]={words!r}"
            )
        if not all(isinstance(s, str) and s.strip() for s in words):
            raise ValueError(
                "Every synonym must be a non-empty string. "
                f"Received: synonyms[{word!r}]={words!r}"
            )
        key = word.lower()
        entry = merged.setdefault(key, {})  # An insertion-ordered set.
        for s in words:
            s = " ".join(s.split())
            if s.lower() != key:
                entry[s] = None
    merged = {k: list(v) for k, v in merged.items() if v}
    if not merged:
        raise ValueError(
            "Argument `synonyms` must map at least one word to a non-empty list "
            f"of synonyms other than itself. Received: synonyms={synonyms!r}"
        )
    return merged


@keras.saving.register_keras_serializable(package="keras_ssl")
class SynonymReplacement(keras.layers.Layer):
    """Replaces random words of raw sentences by one of their synonyms.

    Works on a batch of strings, shape `(batch,)`. Each sentence is split
    on ASCII whitespace (`tf.strings.split`); each word found in `synonyms`
    (matched in lowercase, ignoring ASCII punctuation at its start and end)
    is replaced with probability `rate` by one of its synonyms chosen
    uniformly. Punctuation
    around a replaced word is kept (`"dog,"` -> `"hound,"`); the synonym is
    inserted as spelled in `synonyms` (so a capitalised word may become a
    lowercase one). Words without synonyms are unchanged. The words are
    joined back with single spaces, so runs of whitespace (and leading or
    trailing whitespace) become one space even when nothing is replaced.

    Everything runs in-graph (`tf.strings` ops, a `tf.lookup.StaticHashTable`
    from word to row of a ragged synonym table), so the layer works inside
    `tf.data` and inside a model (not under XLA: string ops). Fresh
    randomness on every call. Identity when `training=False`.

    The whole `synonyms` dict is part of `get_config()` so that the layer
    can be rebuilt from a `.keras` file, which therefore holds it in its
    JSON config. Mind the size: the full WordNet dict of
    `wordnet_synonyms()` (about 49,000 words, 134,000 synonyms) adds about
    2.3 MB, and building the layer takes about half a second. For large
    dictionaries, consider applying the layer in the `tf.data` pipeline
    rather than saving it inside a model.

    Args:
        synonyms: dict `{word: [synonym, ...]}`. Keys must be single words
            and are matched in lowercase; synonyms may be phrases. See
            `keras_ssl.datasets.wordnet_synonyms` for one built from
            WordNet.
        rate: probability of replacing each word that has synonyms, in
            `[0, 1]`.
        seed: int seed.

    Example:

    >>> replace = SynonymReplacement(
    ...     {"quick": ["fast", "speedy"], "dog": ["hound"]}, rate=1.0, seed=0)
    >>> replace(["The quick brown dog."])  # e.g. ["The fast brown hound."]
    <tf.Tensor: shape=(1,), dtype=string, numpy=...>

    Reference:
        [Wei and Zou, 2019](https://arxiv.org/abs/1901.11196)
    """

    def __init__(self, synonyms, rate=0.1, seed=None, **kw):
        super().__init__(**kw)
        # Accept Python lists and NumPy arrays of strings, as Keras'
        # `StringLookup` and `TextVectorization` do.
        self._allow_non_tensor_positional_args = True
        # A read-only view: Keras and TensorFlow attribute tracking would
        # otherwise wrap every list of a large dict (seconds for WordNet).
        self.synonyms = types.MappingProxyType(_normalize_synonyms(synonyms))
        self.rate = check_fraction("rate", rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        keys = list(self.synonyms)
        counts = [len(self.synonyms[k]) for k in keys]
        starts = [0]
        for c in counts[:-1]:
            starts.append(starts[-1] + c)
        values = [s for k in keys for s in self.synonyms[k]]
        self._values = tf.constant(values, dtype=tf.string)
        self._starts = tf.constant(starts, dtype=tf.int64)
        self._counts = tf.constant(counts, dtype=tf.int64)
        self._word_to_row = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys, dtype=tf.string),
                tf.range(len(keys), dtype=tf.int64),
            ),
            default_value=-1,
        )

    def call(self, sentences, training=True):
        if not isinstance(sentences, tf.Tensor):
            sentences = tf.convert_to_tensor(sentences)
        if sentences.dtype != tf.string or sentences.shape.rank != 1:
            raise ValueError(
                "Expected `sentences` to be a string tensor of shape (batch,). "
                f"Received: sentences.shape={tuple(sentences.shape)}, "
                f"sentences.dtype={sentences.dtype.name}"
            )
        if not training or self.rate == 0.0:
            return sentences
        words = tf.strings.split(sentences)
        flat = words.flat_values
        prefix = tf.strings.regex_replace(flat, _AFFIXES, r"\1")
        core = tf.strings.regex_replace(flat, _AFFIXES, r"\2")
        suffix = tf.strings.regex_replace(flat, _AFFIXES, r"\3")
        # Words the pattern does not split cleanly (invalid UTF-8, NUL
        # bytes) are matched whole.
        clean = tf.equal(tf.strings.join([prefix, core, suffix]), flat)
        prefix = tf.where(clean, prefix, "")
        core = tf.where(clean, core, flat)
        suffix = tf.where(clean, suffix, "")
        # UTF-8 lowercasing stops at a NUL byte; such words get ASCII lowercasing.
        has_nul = tf.strings.regex_full_match(core, r"(?s).*\x00.*")
        lowered = tf.where(
            has_nul, tf.strings.lower(core), tf.strings.lower(core, encoding="utf-8")
        )
        row = self._word_to_row.lookup(lowered)
        safe_row = tf.maximum(row, 0)
        count = tf.where(row >= 0, tf.gather(self._counts, safe_row), 0)

        draws = keras.random.uniform(
            tf.stack([tf.size(flat), 2]), seed=self.seed_generator
        )
        replace = tf.logical_and(count > 0, draws[:, 0] < self.rate)
        pick = tf.cast(tf.floor(draws[:, 1] * tf.cast(count, "float32")), tf.int64)
        pick = tf.minimum(pick, tf.maximum(count - 1, 0))
        synonym = tf.gather(self._values, tf.gather(self._starts, safe_row) + pick)
        new_core = tf.where(replace, synonym, core)
        new_words = tf.strings.join([prefix, new_core, suffix])
        return tf.strings.reduce_join(
            words.with_flat_values(new_words), axis=1, separator=" "
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, sentences, training=None):
        return keras.KerasTensor(sentences.shape, dtype="string")

    def get_config(self):
        config = super().get_config()
        config.update(
            synonyms={k: list(v) for k, v in self.synonyms.items()},
            rate=self.rate,
            seed=self.seed,
        )
        return config
