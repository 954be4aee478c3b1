"""Checks on raw texts before tokenization, and a truncation counter.

The module is not named `check_texts.py`: `keras_ssl.tokenizers` exports a
function of that name, which a submodule of the same name would shadow.
"""

import numpy as np
import tensorflow as tf

from keras_ssl.checks import check_int_range

EMPTY_MODES = ("raise", "drop", "keep")


def _describe(value, limit=40):
    text = repr(value)
    return text if len(text) <= limit + 2 else text[:limit] + "..."


def _as_items(texts, argument):
    """Returns `texts` as a Python list, or raises ValueError."""
    if isinstance(texts, str | bytes):
        raise ValueError(
            f"Argument `{argument}` must be a sequence of strings, not one "
            f"string. Received: {argument}={_describe(texts)}"
        )
    if isinstance(texts, tf.Tensor):
        texts = texts.numpy()
    if isinstance(texts, np.ndarray):
        if texts.ndim == 2 and texts.shape[1] == 1:
            texts = texts[:, 0]
        if texts.ndim != 1:
            raise ValueError(
                f"Argument `{argument}` must be a 1-D sequence of strings (or "
                f"a column `(n, 1)`). Received: {argument} with shape "
                f"{texts.shape}"
            )
        return texts.tolist()
    try:
        return list(texts)
    except TypeError:
        raise ValueError(
            f"Argument `{argument}` must be a sequence of strings. Received: "
            f"{argument} of type {type(texts).__name__}"
        ) from None


def check_texts(texts, argument="texts", empty="raise"):
    """Validates texts before tokenization; returns them as `str`.

    Checks, in this order, that `texts` is a non-empty 1-D sequence (a
    list, tuple, NumPy array, a `(n, 1)` column or a string tensor), that
    every item is a `str` or `bytes`, that bytes decode as UTF-8 and strings
    encode as UTF-8 (no lone surrogates, which `tf.constant` rejects), and
    what to do with empty or whitespace-only texts. Errors name the
    argument, how many items are bad and the index of the first one, e.g.
    `"2 of 5 items of texts are bytes that are not valid UTF-8; the first is
    texts[3]=b'\\xff'"`.

    Empty texts tokenize to `[CLS] [SEP]` and nothing to learn from, and
    usually mean a broken data file (a blank line, a missing CSV cell), so
    by default they are an error. With `empty="drop"` they are removed and
    the caller gets their number, to log, e.g.
    `logger.warning("Dropped %d empty texts of %d.", dropped, total)`.
    Labels aligned with `texts` must then be filtered the same way: keep
    `[t.strip() != "" for t in texts]`. `empty="keep"` keeps them.

    Args:
        texts: sequence of `str` or UTF-8 `bytes`.
        argument: the argument name used in error messages.
        empty: `"raise"` (default), `"drop"` or `"keep"`.

    Returns:
        A 1-D NumPy object array of `str`; with `empty="drop"`, the tuple
        `(texts, num_dropped)`.

    Example:

    >>> check_texts(["a cat", b"a dog"])
    array(['a cat', 'a dog'], dtype=object)
    >>> check_texts(["a cat", "  "], empty="drop")
    (array(['a cat'], dtype=object), 1)
    """
    if empty not in EMPTY_MODES:
        raise ValueError(
            f"Argument `empty` must be one of {list(EMPTY_MODES)}. "
            f"Received: empty={empty!r}"
        )
    items = _as_items(texts, argument)
    total = len(items)
    if total == 0:
        raise ValueError(
            f"Argument `{argument}` must be a non-empty sequence of strings. "
            f"Received: {argument} with 0 items"
        )
    wrong_type, bad_utf8, blank = [], [], []
    for i, text in enumerate(items):
        if isinstance(text, bytes):
            try:
                items[i] = text = text.decode("utf-8")
            except UnicodeDecodeError:
                bad_utf8.append(i)
                continue
        elif not isinstance(text, str):
            wrong_type.append(i)
            continue
        else:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                bad_utf8.append(i)
                continue
            if type(text) is not str:  # numpy.str_ and other subclasses
                items[i] = text = str(text)
        if not text.strip():
            blank.append(i)
    if wrong_type:
        i = wrong_type[0]
        value = items[i]
        hint = ""
        if value is None or (isinstance(value, float) and np.isnan(value)):
            hint = " Missing values (None/NaN, e.g. empty CSV cells) are not texts."
        raise ValueError(
            f"Argument `{argument}` must hold strings (str or UTF-8 bytes). "
            f"Received: {len(wrong_type)} of {total} items that are not; the "
            f"first is {argument}[{i}]={_describe(value)} of type "
            f"{type(value).__name__}.{hint}"
        )
    if bad_utf8:
        i = bad_utf8[0]
        raise ValueError(
            f"Argument `{argument}` must hold UTF-8 text. Received: "
            f"{len(bad_utf8)} of {total} items that are not valid UTF-8 "
            "(undecodable bytes, or strings with lone surrogates); the first "
            f"is {argument}[{i}]={_describe(items[i])}. Decode the data with "
            "its real encoding, or with errors='replace'."
        )
    if blank and empty == "raise":
        raise ValueError(
            f"Argument `{argument}` must not hold empty or whitespace-only "
            f"texts. Received: {len(blank)} of {total}; the first is "
            f"{argument}[{blank[0]}]={_describe(items[blank[0]])}. Remove "
            "them, or pass empty='drop' to drop them."
        )
    if blank and empty == "drop":
        if len(blank) == total:
            raise ValueError(
                f"Argument `{argument}` holds only empty or whitespace-only "
                f"texts ({total} of {total}): nothing is left after dropping them."
            )
        drop = set(blank)
        items = [t for i, t in enumerate(items) if i not in drop]
    array = np.empty(len(items), dtype=object)
    array[:] = items
    if empty == "drop":
        return array, len(blank)
    return array


def _check_preprocessor(preprocessor):
    # Imported here: text_preprocessor imports keras_hub, which is slow.
    # `PresetTextPreprocessor` (keras-hub tokenizers) is a subclass.
    from keras_ssl.tokenizers.text_preprocessor import TextPreprocessor

    if not isinstance(preprocessor, TextPreprocessor):
        raise ValueError(
            "Argument `preprocessor` must be a keras_ssl TextPreprocessor. "
            f"Received: preprocessor of type {type(preprocessor).__name__}"
        )


def _row_lengths(pieces):
    if isinstance(pieces, tf.RaggedTensor):
        return tf.cast(pieces.row_lengths(), "int32")
    return tf.fill([tf.shape(pieces)[0]], tf.shape(pieces)[1])


def word_piece_lengths(preprocessor, texts, second_texts=None, batch_size=1024):
    """Number of word pieces of each text (or pair), before truncation.

    Tokenizes with the preprocessor's WordPiece tokenizer in a parallel
    `tf.data` pipeline (about 4 s for the 117k WordNet glosses on two busy
    CPU cores). `[CLS]`/`[SEP]` are not counted.

    Args:
        preprocessor: a `TextPreprocessor`.
        texts: sequence of strings (see `check_texts`).
        second_texts: optional second sentences, one per text: the result
            is then the word pieces of each pair, both sentences together.
        batch_size: texts per tokenizer call.

    Returns:
        A 1-D int32 NumPy array, one length per text.
    """
    _check_preprocessor(preprocessor)
    check_int_range("batch_size", batch_size, 1)
    texts = check_texts(texts, "texts", empty="keep")
    if second_texts is None:
        data = tf.data.Dataset.from_tensor_slices(texts.tolist())
        data = data.batch(batch_size).map(
            lambda t: _row_lengths(preprocessor.tokenizer(t)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    else:
        second_texts = check_texts(second_texts, "second_texts", empty="keep")
        if len(second_texts) != len(texts):
            raise ValueError(
                "Arguments `texts` and `second_texts` must have the same "
                f"length. Received: {len(texts)} and {len(second_texts)}"
            )
        data = tf.data.Dataset.from_tensor_slices(
            (texts.tolist(), second_texts.tolist())
        )
        data = data.batch(batch_size).map(
            lambda a, b: (
                _row_lengths(preprocessor.tokenizer(a))
                + _row_lengths(preprocessor.tokenizer(b))
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return np.concatenate(list(data.as_numpy_iterator())).astype(np.int32)


def count_truncated(preprocessor, texts, second_texts=None, batch_size=1024):
    """How many texts `preprocessor` truncates.

    A text is truncated when it has more than `sequence_length - 2` word
    pieces (room is kept for `[CLS]` and `[SEP]`); a pair (`second_texts`
    given, packed by `TextPreprocessor.pack_pair`) when both sentences
    together have more than `sequence_length - 3`. Log the result, e.g.
    `"%d of %d texts truncated to %d tokens"`: a large fraction means
    `sequence_length` is too short for the corpus.

    Args:
        preprocessor: a `TextPreprocessor`.
        texts: sequence of strings.
        second_texts: optional second sentences (counts truncated pairs).
        batch_size: texts per tokenizer call.

    Returns:
        An int.

    Example:

    >>> from keras_ssl.tokenizers import TextPreprocessor
    >>> vocab = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]", "a", "black", "cat"]
    >>> pre = TextPreprocessor(vocab, sequence_length=4)
    >>> count_truncated(pre, ["a cat", "a small black cat"])
    1
    """
    lengths = word_piece_lengths(preprocessor, texts, second_texts, batch_size)
    special = 2 if second_texts is None else 3
    return int(np.sum(lengths > preprocessor.sequence_length - special))
