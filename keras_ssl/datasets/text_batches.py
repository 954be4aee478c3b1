"""`text_batches`: token-id batches for the text methods, tokenized in `tf.data`."""

import logging

import tensorflow as tf

from keras_ssl.checks import check_bool, check_positive_int
from keras_ssl.datasets.streamed_data import StreamedData
from keras_ssl.tokenizers.text_checks import check_texts

logger = logging.getLogger("keras_ssl")

AUTOTUNE = tf.data.AUTOTUNE


def _check_preprocessor(preprocessor):
    if not callable(preprocessor) or not isinstance(
        getattr(preprocessor, "sequence_length", None), int
    ):
        raise ValueError(
            "Argument `preprocessor` must be a text preprocessor: a layer "
            "from strings to token ids with a `sequence_length` (e.g. "
            "keras_ssl.tokenizers.TextPreprocessor, the `preprocessor` of a "
            f"text model). Received: preprocessor={preprocessor!r} of type "
            f"{type(preprocessor).__name__}"
        )


def _strings_of_dataset(dataset):
    """`dataset` as a dataset of scalar strings (a batched one is unbatched)."""
    spec = dataset.element_spec
    if (
        not isinstance(spec, tf.TensorSpec)
        or spec.dtype != tf.string
        or spec.shape.rank not in (0, 1)
    ):
        raise ValueError(
            "Argument `texts` must be a dataset of strings (one text per "
            "element, or batches of them). Received: a tf.data.Dataset of "
            f"{spec}. Keep the texts only, e.g. `dataset.map(lambda x, y: x)`."
        )
    return dataset.unbatch() if spec.shape.rank == 1 else dataset


def text_batches(
    texts,
    preprocessor,
    batch_size=32,
    shuffle=True,
    seed=0,
    repeat=False,
    drop_remainder=False,
    shuffle_buffer=10_000,
):
    """Batches of token ids, each text tokenized once in the `tf.data` pipeline.

    The fast input path of the text methods (`MaskedLanguageModel`,
    `SimCSE`, `ReplacedTokenDetection`, `CausalLanguageModel`): texts are
    shuffled, batched, then tokenized by `preprocessor` in a parallel `map`
    (a batch at a time) and prefetched, so the model trains on int32 token
    ids and tokenization overlaps training. Feeding raw strings to `fit`
    tokenizes inside the train step instead, on the training device.

    Args:
        texts: the texts: a list, tuple or NumPy array of `str` (empty and
            whitespace-only texts are dropped, with a warning), a
            `tf.data.Dataset` of `tf.string` texts (one per element, or
            batches of them), or a text `StreamedData` (e.g.
            `keras_ssl.datasets.stream_text_file(path)`, read from disk with
            flat memory; labels, if any, are left out).
        preprocessor: the model's preprocessor, e.g. a
            `keras_ssl.tokenizers.TextPreprocessor`: a layer from a batch of
            strings to `(batch, sequence_length)` token ids.
        batch_size: texts per batch.
        shuffle: shuffle the texts (anew each epoch): in memory, all of
            them; a dataset, through a buffer of `shuffle_buffer` texts; a
            `StreamedData`, its files and a buffer of records.
        seed: seed of the shuffle (the same seed, the same order).
        repeat: repeat forever (then pass `steps_per_epoch` to `fit`).
        drop_remainder: only full batches.
        shuffle_buffer: texts held by the shuffle of a `tf.data.Dataset`.

    Returns:
        A `tf.data.Dataset` of int32 token-id batches
        `(batch, preprocessor.sequence_length)`.

    Example:

    >>> from keras_ssl.tokenizers import (
    ...     TextPreprocessor,
    ...     train_word_piece_vocabulary,
    ... )
    >>> texts = ["a small cat", "a big dog", "the cat sat", "a dog ran"]
    >>> vocabulary = train_word_piece_vocabulary(texts, 40)
    >>> preprocessor = TextPreprocessor(vocabulary, sequence_length=8)
    >>> batches = text_batches(texts, preprocessor, batch_size=2)
    >>> next(iter(batches)).shape
    TensorShape([2, 8])
    >>> model.fit(batches, epochs=3)  # doctest: +SKIP
    """
    _check_preprocessor(preprocessor)
    batch_size = check_positive_int("batch_size", batch_size)
    shuffle = check_bool("shuffle", shuffle)
    repeat = check_bool("repeat", repeat)
    drop_remainder = check_bool("drop_remainder", drop_remainder)
    shuffle_buffer = check_positive_int("shuffle_buffer", shuffle_buffer)
    if isinstance(texts, StreamedData):
        if texts.modality != "text":
            raise ValueError(
                "Argument `texts` must hold texts. Received: a StreamedData "
                f"of {texts.modality}s ({texts!r})"
            )
        ds = texts.batches(
            batch_size,
            shuffle=shuffle,
            seed=seed,
            repeat=repeat,
            drop_remainder=drop_remainder,
            labels=False,
        )
    else:
        if isinstance(texts, tf.data.Dataset):
            ds = _strings_of_dataset(texts)
            buffer = shuffle_buffer
        else:
            if isinstance(texts, str):
                raise ValueError(
                    "Argument `texts` must be a sequence of texts, not one "
                    f"string. Received: texts={texts[:40]!r}. Wrap it in a "
                    "list, or pass `stream_text_file(path)` for a file."
                )
            texts, dropped = check_texts(texts, "texts", empty="drop")
            if dropped:
                logger.warning(
                    "Dropped %d empty texts of %d.", dropped, len(texts) + dropped
                )
            ds = tf.data.Dataset.from_tensor_slices(texts.astype(str))
            buffer = len(texts)
        if shuffle:
            ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    ds = ds.map(preprocessor, num_parallel_calls=AUTOTUNE, deterministic=True)
    return ds.prefetch(AUTOTUNE)
