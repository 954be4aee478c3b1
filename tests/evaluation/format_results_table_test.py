import pytest

from keras_ssl.evaluation import format_results_table


def test_aligned_table_with_missing_values():
    table = format_results_table(
        [
            {
                "task": "fashion_mnist",
                "protocol": "linear_probe",
                "ssl": 0.797,
                "random_init": 0.781,
                "raw_input": 0.793,
            },
            {"task": "fashion_mnist", "protocol": "knn@20", "ssl": 0.79849},
            {
                "task": "wordnet",
                "protocol": "fine_tune",
                "ssl": {"accuracy": 0.619},
                "random_init": None,
                "raw_input": float("nan"),
            },
        ]
    )
    assert table.splitlines() == [
        "task           protocol        ssl  random_init  raw_input",
        "-------------  ------------  -----  -----------  ---------",
        "fashion_mnist  linear_probe  79.7%        78.1%      79.3%",
        "fashion_mnist  knn@20        79.8%            -          -",
        "wordnet        fine_tune     61.9%            -          -",
    ]


def test_column_order_and_extra_columns():
    rows = [{"note": "60k bank", "ssl": 1.0, "task": "t", "epochs": 3}]
    assert format_results_table(rows).splitlines() == [
        "task     ssl  note      epochs",
        "----  ------  --------  ------",
        "t     100.0%  60k bank       3",
    ]
    assert format_results_table(rows, columns=["ssl", "missing"]).splitlines() == [
        "   ssl  missing",
        "------  -------",
        "100.0%        -",
    ]


@pytest.mark.parametrize(
    "rows, match",
    [
        ([], r"`rows` must be a non-empty list of dicts. Received: rows=\[\]"),
        ({"task": "t"}, r"Received: rows=\{'task': 't'\}"),
        ([{"task": "t"}, ("t", 0.5)], r"Received: rows\[1\] of type tuple"),
    ],
)
def test_invalid_rows_raise(rows, match):
    with pytest.raises(ValueError, match=match):
        format_results_table(rows)
