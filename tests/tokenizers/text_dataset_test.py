"""text_batches: texts tokenized once in tf.data, batches that feed the text models."""

import logging

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.datasets import stream_text_file
from keras_ssl.datasets.text_batches import text_batches
from keras_ssl.encoders import transformer_encoder
from keras_ssl.models import MaskedLanguageModel
from keras_ssl.tokenizers import TextPreprocessor, train_word_piece_vocabulary

WORDS = "a small cat sat on the mat while the big dog ran in the park".split()
TEXTS = [" ".join(WORDS[i : i + 3 + i % 4]) for i in range(11)] * 2  # 22 texts
LENGTH = 8


@pytest.fixture(scope="module")
def preprocessor():
    vocabulary = train_word_piece_vocabulary(TEXTS, 60)
    return TextPreprocessor(vocabulary, sequence_length=LENGTH)


@pytest.fixture(scope="module")
def expected(preprocessor):
    return preprocessor(tf.constant(TEXTS)).numpy()


def _rows(ds):
    batches = [batch.numpy() for batch in ds]
    return batches, np.concatenate(batches, axis=0)


def _sorted(rows):
    return rows[np.lexsort(rows.T[::-1])]


def test_in_order_the_batches_are_the_preprocessors_ids(preprocessor, expected):
    batches, rows = _rows(text_batches(TEXTS, preprocessor, 5, shuffle=False))
    assert [len(b) for b in batches] == [5, 5, 5, 5, 2]
    assert rows.dtype == np.int32
    np.testing.assert_array_equal(rows, expected)
    full = text_batches(TEXTS, preprocessor, 5, shuffle=False, drop_remainder=True)
    assert [len(b) for b in _rows(full)[0]] == [5, 5, 5, 5]


def test_the_shuffle_is_seeded_and_new_each_epoch(preprocessor, expected):
    ds = text_batches(TEXTS, preprocessor, 4, seed=3)
    first, second = _rows(ds)[1], _rows(ds)[1]
    np.testing.assert_array_equal(_sorted(first), _sorted(expected))
    assert not np.array_equal(first, expected)  # shuffled
    assert not np.array_equal(first, second)  # anew each epoch
    again = _rows(text_batches(TEXTS, preprocessor, 4, seed=3))[1]
    np.testing.assert_array_equal(again, first)  # same seed, same order


def test_datasets_and_streamed_files_give_the_same_ids(
    preprocessor, expected, tmp_path
):
    one_by_one = tf.data.Dataset.from_tensor_slices(TEXTS)
    batched = one_by_one.batch(7)
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    for source in (one_by_one, batched, stream_text_file(str(path))):
        rows = _rows(text_batches(source, preprocessor, 6, shuffle=False))[1]
        np.testing.assert_array_equal(rows, expected)
    shuffled = _rows(text_batches(stream_text_file(str(path)), preprocessor, 6))[1]
    np.testing.assert_array_equal(_sorted(shuffled), _sorted(expected))


def test_empty_texts_are_dropped_with_a_warning(preprocessor, caplog):
    with caplog.at_level(logging.WARNING, logger="keras_ssl"):
        ds = text_batches(["a cat", "  ", "", "a dog"], preprocessor, 8, shuffle=False)
    assert "Dropped 2 empty texts of 4." in caplog.text
    rows = _rows(ds)[1]
    np.testing.assert_array_equal(rows, preprocessor(tf.constant(["a cat", "a dog"])))


def test_the_batches_feed_masked_language_model_fit(preprocessor):
    keras.utils.set_random_seed(0)
    encoder = transformer_encoder(
        preprocessor.vocabulary_size,
        LENGTH,
        hidden_dim=8,
        num_layers=1,
        num_heads=2,
        intermediate_dim=16,
        dropout=0.0,
    )
    model = MaskedLanguageModel(encoder, preprocessor, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = [np.array(w) for w in encoder.get_weights()]
    history = model.fit(
        text_batches(TEXTS, preprocessor, 8, repeat=True),
        steps_per_epoch=3,
        epochs=2,
        shuffle=False,  # shuffled by text_batches
        verbose=0,
    )
    assert len(history.history["loss"]) == 2
    assert np.all(np.isfinite(history.history["loss"]))
    assert any(not np.allclose(a, b) for a, b in zip(before, encoder.get_weights()))


@pytest.mark.parametrize(
    "texts, kwargs, match",
    [
        ("a cat", {}, r"not one string\. Received: texts='a cat'"),
        (["a cat", 3], {}, r"must hold strings.*texts\[1\]=3"),
        (["", " "], {}, r"only empty or whitespace-only texts \(2 of 2\)"),
        (tf.data.Dataset.range(3), {}, r"dataset of strings.*int64"),
        (
            tf.data.Dataset.from_tensor_slices((["a"], [1])),
            {},
            r"Received: a tf\.data\.Dataset of \(TensorSpec.*lambda x, y: x",
        ),
        (["a cat"], {"batch_size": 0}, r"`batch_size` must be a positive int"),
        (["a cat"], {"shuffle": "yes"}, r"Received: shuffle='yes'"),
    ],
)
def test_bad_input(preprocessor, texts, kwargs, match):
    with pytest.raises(ValueError, match=match):
        text_batches(texts, preprocessor, **kwargs)


def test_the_preprocessor_must_be_one():
    with pytest.raises(ValueError, match=r"`preprocessor` must be a text.*str"):
        text_batches(["a cat"], "vocab.txt")
