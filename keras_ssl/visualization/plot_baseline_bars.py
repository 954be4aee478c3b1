import math
import numbers

import numpy as np

from keras_ssl.visualization._figure import check_png_path, new_figure, save_png

DEFAULT_COLUMNS = ("ssl", "random_init", "raw_input")
_LEGEND = {
    "ssl": "SSL encoder",
    "random_init": "random-init encoder",
    "raw_input": "raw input",
}


def plot_baseline_bars(rows, path, columns=None, title=None):
    """Bar chart of evaluation results: SSL vs random-init vs raw-input baseline.

    One group of bars per result row (labelled by its `task` and
    `protocol`), one bar per column, the accuracy written on each bar. The
    rows are those `keras_ssl.app.evaluate_images` /
    `evaluate_text` / `fine_tune_images` return and
    `keras_ssl.evaluation.format_results_table` prints.

    Args:
        rows: non-empty list of dicts, e.g. `{"task": "fashion_mnist",
            "protocol": "linear probe", "ssl": 0.852, "random_init": 0.793,
            "raw_input": 0.793}`. Values are accuracies in `[0, 1]` (or a
            result dict with an `"accuracy"`); a missing value, `None` or
            NaN leaves its bar out.
        path: where to write the PNG (must end in `.png`; its folder is
            created).
        columns: the keys to plot, in order; defaults to those of
            `"ssl", "random_init", "raw_input"` that some row has.
        title: optional figure title.

    Returns:
        `path`.

    Example:

    >>> rows = [
    ...     {"task": "fmnist", "protocol": "linear_probe", "ssl": 0.797,
    ...      "random_init": 0.781, "raw_input": 0.793},
    ...     {"task": "fmnist", "protocol": "knn@20", "ssl": 0.798,
    ...      "raw_input": 0.846},
    ... ]
    >>> plot_baseline_bars(rows, "baselines.png")
    'baselines.png'
    """
    if not isinstance(rows, list | tuple) or not rows:
        raise ValueError(
            f"Argument `rows` must be a non-empty list of dicts. Received: {rows!r}"
        )
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValueError(
                "Argument `rows` must be a non-empty list of dicts. "
                f"Received: rows[{index}] of type {type(row).__name__}"
            )
    if columns is None:
        columns = [c for c in DEFAULT_COLUMNS if any(c in row for row in rows)]
        if not columns:
            raise ValueError(
                "Argument `rows` must have at least one of the keys "
                f"{DEFAULT_COLUMNS} (or pass `columns`). Received keys: "
                f"{sorted({str(k) for row in rows for k in row})}"
            )
    elif isinstance(columns, str) or not columns:
        raise ValueError(
            "Argument `columns` must be a non-empty list of keys. "
            f"Received: columns={columns!r}"
        )
    values = np.array(
        [
            [_accuracy(row, column, i) for column in columns]
            for i, row in enumerate(rows)
        ]
    )
    if np.isnan(values).all():
        raise ValueError(
            f"Argument `rows` has no accuracy in the columns {list(columns)}."
        )
    path = check_png_path(path)

    num_rows, num_columns = values.shape
    # Up to 8 rows: vertical groups; more (a benchmark of many methods):
    # horizontal bars, one row label per line, so the labels stay readable.
    horizontal = num_rows > 8
    separator = "  ·  " if horizontal else "\n"
    labels = [_row_label(row, i, separator) for i, row in enumerate(rows)]
    size = 0.8 / num_columns
    if horizontal:
        figure = new_figure(8.5, 1.4 + 0.11 * num_rows * (num_columns + 0.6))
    else:
        figure = new_figure(max(6.0, 1.2 + 0.4 * num_rows * (num_columns + 1)), 4.8)
    ax = figure.subplots()
    centres = np.arange(num_rows)
    for j, column in enumerate(columns):
        lengths = 100 * values[:, j]
        keep = ~np.isnan(lengths)
        offsets = centres[keep] + (j - (num_columns - 1) / 2) * size
        draw = ax.barh if horizontal else ax.bar
        bars = draw(
            offsets, lengths[keep], size, label=_LEGEND.get(column, str(column))
        )
        ax.bar_label(bars, fmt="%.1f", fontsize=6 if horizontal else 8, padding=2)
    if horizontal:
        ax.set_yticks(centres, labels, fontsize="small")
        ax.set_ylim(num_rows - 0.5, -0.5)  # the first row at the top
        ax.set_xlim(0, 108)
        ax.set_xticks(range(0, 101, 20))
        ax.set_xlabel("accuracy (%)")
        ax.grid(axis="x", alpha=0.3)
    else:
        ax.set_xticks(centres, labels)
        ax.set_ylim(0, 108)
        ax.set_yticks(range(0, 101, 20))
        ax.set_ylabel("accuracy (%)")
        ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    figure.legend(
        loc="outside upper center", ncol=num_columns, fontsize="small", frameon=False
    )
    if title:
        ax.set_title(title)
    return save_png(figure, path)


def _accuracy(row, column, index):
    value = row.get(column)
    if isinstance(value, dict):
        value = value.get("accuracy")
    if value is None:
        return math.nan
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not (math.isnan(value) or 0 <= value <= 1)
    ):
        raise ValueError(
            f"Result values must be accuracies in [0, 1]. Received: "
            f"rows[{index}][{column!r}]={value!r}"
        )
    return float(value)


def _row_label(row, index, separator):
    parts = [str(row[key]) for key in ("task", "protocol") if row.get(key) is not None]
    return separator.join(parts) if parts else f"row {index}"
