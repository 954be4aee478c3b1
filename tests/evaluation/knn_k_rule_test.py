"""The kNN `k` rule: `k` capped at a tenth of the bank's average class, and
the `k` actually used reported by `knn_evaluate`."""

import numpy as np
import pytest

from keras_ssl.evaluation import knn_evaluate
from keras_ssl.evaluation.knn_evaluate import knn_k_rule


def problem(num_bank, num_classes, num_query=30, dim=6, seed=0):
    rng = np.random.default_rng(seed)
    bank = rng.normal(size=(num_bank, dim)).astype("float32")
    queries = rng.normal(size=(num_query, dim)).astype("float32")
    y_bank = np.arange(num_bank) % num_classes
    y_query = rng.integers(0, num_classes, size=num_query)
    return bank, y_bank, queries, y_query


@pytest.mark.parametrize(
    "k, bank_size, num_classes, expected",
    [
        (20, 60000, 10, 20),  # Fashion-MNIST: 6,000 per class, cap 600
        (200, 60000, 10, 200),
        (200, 4000, 10, 40),  # half a class asked, a tenth used
        (20, 4000, 10, 20),
        (200, 1000, 10, 10),
        (20, 100, 10, 1),  # 10 per class: the nearest neighbour
        (20, 5, 10, 1),  # fewer examples than classes: still 1
        (7, 1000, 2, 7),
        (1000, 1000, 2, 50),
    ],
)
def test_rule_numbers(k, bank_size, num_classes, expected):
    assert knn_k_rule(k, bank_size, num_classes) == expected


def test_rule_is_monotone_in_the_bank_and_never_above_k():
    used = [knn_k_rule(200, n, 10) for n in range(1, 30001, 97)]
    assert used == sorted(used)
    assert min(used) == 1 and max(used) == 200


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": 0, "bank_size": 10, "num_classes": 2}, r"`k` must be a positive int"),
        ({"k": 5, "bank_size": 0, "num_classes": 2}, r"`bank_size`.*bank_size=0"),
        ({"k": 5, "bank_size": 9, "num_classes": 1.5}, r"`num_classes`"),
        ({"k": True, "bank_size": 9, "num_classes": 2}, r"`k`.*k=True"),
    ],
)
def test_rule_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        knn_k_rule(**kwargs)


def test_knn_evaluate_reports_the_k_it_used():
    bank, y_bank, queries, y_query = problem(400, 4)  # 100 per class: cap 10
    features = (bank, queries)
    result = knn_evaluate(
        None, None, y_bank, None, y_query, k=(5, 20, 200), features=features
    )
    assert result["knn_k"] == {5: 5, 20: 10, 200: 10}
    # One metric per k used, named by it; "accuracy" is the first asked.
    assert set(result) == {"knn_accuracy@5", "knn_accuracy@10", "accuracy", "knn_k"}
    assert result["accuracy"] == result["knn_accuracy@5"]
    # The same numbers as asking for the used k with the rule off.
    plain = knn_evaluate(
        None, None, y_bank, None, y_query, k=(5, 10), features=features, k_rule=None
    )
    assert plain["knn_k"] == {5: 5, 10: 10}
    for k in (5, 10):
        assert result[f"knn_accuracy@{k}"] == plain[f"knn_accuracy@{k}"]


def test_k_rule_none_keeps_k_and_a_bank_smaller_than_k_is_capped_by_default():
    bank, y_bank, queries, y_query = problem(40, 2)  # 20 per class: cap 2
    features = (bank, queries)
    kept = knn_evaluate(
        None, None, y_bank, None, y_query, k=30, features=features, k_rule=None
    )
    assert kept["knn_k"] == {30: 30} and "knn_accuracy@30" in kept
    capped = knn_evaluate(None, None, y_bank, None, y_query, k=200, features=features)
    assert capped["knn_k"] == {200: 2} and "knn_accuracy@2" in capped
    with pytest.raises(ValueError, match=r"k=200 with a bank of 40.*k_rule=None"):
        knn_evaluate(
            None, None, y_bank, None, y_query, k=200, features=features, k_rule=None
        )
