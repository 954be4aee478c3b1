import numpy as np
import pytest

from keras_ssl.evaluation import tfidf_logistic_regression

TOPICS = [
    ["goal", "match", "team", "score", "league", "coach"],
    ["cell", "protein", "gene", "enzyme", "tissue", "virus"],
    ["court", "judge", "law", "trial", "verdict", "appeal"],
]
FILLER = ["the", "a", "of", "and", "new", "report", "about", "today"]


def make_texts(num_examples, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(TOPICS), size=num_examples)
    texts = [
        " ".join(rng.choice(TOPICS[label], 2).tolist() + rng.choice(FILLER, 5).tolist())
        for label in labels
    ]
    return texts, labels


def test_learns_topics():
    texts_train, y_train = make_texts(150, seed=0)
    texts_test, y_test = make_texts(60, seed=1)
    result = tfidf_logistic_regression(texts_train, y_train, texts_test, y_test)
    assert result["accuracy"] > 0.9
    assert (result["num_train"], result["num_test"]) == (150, 60)
    limited = tfidf_logistic_regression(
        texts_train, y_train, texts_test, y_test, max_features=5, ngram_range=(1, 1)
    )
    assert limited["dim"] == 5


def test_invalid_arguments_raise():
    texts, y = make_texts(20, seed=0)
    with pytest.raises(ValueError, match=r"`texts_train`.*texts_train of type str"):
        tfidf_logistic_regression("one document", y[:1], texts, y)
    bad = texts[:2] + [b"bytes"] + texts[3:]
    with pytest.raises(ValueError, match=r"texts_test\[2\] of type bytes"):
        tfidf_logistic_regression(texts, y, bad, y)
    with pytest.raises(ValueError, match=r"texts_train\[0\] of type int"):
        tfidf_logistic_regression([1, 2], y[:2], texts, y)
    with pytest.raises(ValueError, match=r"len\(texts_train\)=20, len\(y_train\)=19"):
        tfidf_logistic_regression(texts, y[:-1], texts, y)
