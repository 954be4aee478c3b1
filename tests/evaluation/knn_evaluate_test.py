import keras
import numpy as np
import pytest

from keras_ssl.evaluation import knn_evaluate
from keras_ssl.evaluation.knn_evaluate import _knn_predict


def brute_force_knn(bank, y_bank, queries, k, temperature):
    """One query at a time: full sort, exp(sim / T) votes, smallest class wins ties."""
    bank = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    classes = np.unique(y_bank)
    predictions = []
    for query in queries:
        similarity = bank @ (query / np.linalg.norm(query))
        neighbours = np.argsort(-similarity)[:k]
        votes = [
            np.exp(similarity[neighbours][y_bank[neighbours] == c] / temperature).sum()
            for c in classes
        ]
        predictions.append(classes[np.argmax(votes)])
    return np.array(predictions)


def random_problem(num_bank=120, num_query=45, dim=6, seed=0):
    rng = np.random.default_rng(seed)
    bank = rng.normal(size=(num_bank, dim)).astype("float32")
    queries = rng.normal(size=(num_query, dim)).astype("float32")
    y_bank = rng.choice([3, 7, 11, 12], size=num_bank)  # non-contiguous ids
    y_query = rng.choice([3, 7, 11, 12], size=num_query)
    return bank, y_bank, queries, y_query


@pytest.mark.parametrize("temperature", [0.07, 0.5])
def test_predictions_match_brute_force(temperature):
    bank, y_bank, queries, _ = random_problem()
    ks = (1, 5, 20, 120)
    predictions = _knn_predict(bank, y_bank, queries, ks, temperature, chunk_size=7)
    for k in ks:
        expected = brute_force_knn(bank, y_bank, queries, k, temperature)
        np.testing.assert_array_equal(predictions[k], expected)


def test_accuracies_match_brute_force():
    bank, y_bank, queries, y_query = random_problem()
    result = knn_evaluate(
        lambda x: x,
        bank,
        y_bank,
        queries,
        y_query,
        k=(5, 20),
        batch_size=16,
        k_rule=None,
    )
    assert set(result) == {"knn_accuracy@5", "knn_accuracy@20", "accuracy", "knn_k"}
    assert result["knn_k"] == {5: 5, 20: 20}
    for k in (5, 20):
        expected = brute_force_knn(bank, y_bank, queries, k, 0.07)
        assert result[f"knn_accuracy@{k}"] == np.mean(expected == y_query)
    assert result["accuracy"] == result["knn_accuracy@5"]


def test_tiny_temperature_stays_finite_and_acts_like_nearest_neighbour():
    bank, y_bank, queries, _ = random_problem()
    predictions = _knn_predict(bank, y_bank, queries, (1, 20), temperature=1e-4)
    np.testing.assert_array_equal(predictions[20], predictions[1])


def test_default_ks_on_blobs_are_capped_by_the_bank(blobs):
    x_train, y_train, x_test, y_test = blobs
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16)])
    result = knn_evaluate(encoder, x_train, y_train, x_test, y_test)
    # 300 bank examples of 3 classes: at most a tenth of 100, so 10.
    assert result["knn_k"] == {20: 10, 200: 10}
    assert set(result) == {"knn_accuracy@10", "accuracy", "knn_k"}
    assert result["accuracy"] == result["knn_accuracy@10"] > 0.95


def test_int_k_and_precomputed_features():
    bank, y_bank, queries, y_query = random_problem()
    result = knn_evaluate(
        None, None, y_bank, None, y_query, k=3, features=(bank, queries)
    )
    accuracy = np.mean(brute_force_knn(bank, y_bank, queries, 3, 0.07) == y_query)
    # 120 examples of 4 classes: the cap (120 // 40 = 3) leaves k=3 as it is.
    assert result == {"knn_accuracy@3": accuracy, "accuracy": accuracy, "knn_k": {3: 3}}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            {"k": 121, "k_rule": None},
            r"`k` must not exceed.*k=121 with a bank of 120 examples",
        ),
        ({"k": (20, 200), "k_rule": None}, r"k=200 with a bank of 120 examples"),
        ({"k_rule": "sqrt"}, r"`k_rule` must be one of \['tenth_of_class', None\]"),
        ({"k": 0}, r"`k` must be a positive int.*k=0"),
        ({"k": ()}, r"`k` must be a positive int"),
        ({"k": (5, 2.5)}, r"`k` must be a positive int"),
        ({"temperature": 0.0}, r"`temperature` must be a positive float"),
    ],
)
def test_invalid_arguments_raise(kwargs, match):
    bank, y_bank, queries, y_query = random_problem()
    with pytest.raises(ValueError, match=match):
        knn_evaluate(lambda x: x, bank, y_bank, queries, y_query, **kwargs)


def test_invalid_labels_raise():
    bank, y_bank, queries, y_query = random_problem()
    with pytest.raises(ValueError, match=r"len\(x_bank\)=120, len\(y_bank\)=119"):
        knn_evaluate(lambda x: x, bank, y_bank[:-1], queries, y_query, k=5)
    with pytest.raises(ValueError, match=r"len\(x_query\)=45, len\(y_query\)=44"):
        knn_evaluate(lambda x: x, bank, y_bank, queries, y_query[:-1], k=5)
    with pytest.raises(ValueError, match=r"`y_query` must be a 1-D array"):
        knn_evaluate(lambda x: x, bank, y_bank, queries, y_query[:, None], k=5)
    with pytest.raises(ValueError, match=r"len\(features\[0\]\)=120"):
        knn_evaluate(
            None, None, y_bank[:-1], None, y_query, k=5, features=(bank, queries)
        )
