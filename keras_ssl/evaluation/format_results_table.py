import math
import numbers

DEFAULT_COLUMNS = ("task", "protocol", "ssl", "random_init", "raw_input")


def format_results_table(rows, columns=None):
    """Formats evaluation results as an aligned plain-text table.

    Floats are read as accuracies in [0, 1] and shown as percentages with one
    decimal; a result dict (as returned by `linear_probe`) shows its
    `"accuracy"`. Missing values, `None` and NaN show as `"-"`. Numeric
    columns are right-aligned, the others left-aligned.

    Args:
        rows: non-empty list of dicts, one per table row, e.g.
            `{"task": "fashion_mnist", "protocol": "linear_probe",
            "ssl": 0.797, "random_init": 0.781, "raw_input": 0.793}`.
        columns: optional sequence of keys, the columns in order. Defaults to
            those of `"task", "protocol", "ssl", "random_init", "raw_input"`
            that some row has, followed by the other keys of the rows in order
            of first appearance.

    Returns:
        The table as a string: a header line, a rule and one line per row.

    Example:

    >>> print(format_results_table([
    ...     {"task": "fmnist", "protocol": "linear_probe", "ssl": 0.797,
    ...      "random_init": 0.781, "raw_input": 0.793},
    ...     {"task": "fmnist", "protocol": "knn@20", "ssl": 0.798,
    ...      "raw_input": 0.846},
    ... ]))
    task    protocol        ssl  random_init  raw_input
    ------  ------------  -----  -----------  ---------
    fmnist  linear_probe  79.7%        78.1%      79.3%
    fmnist  knn@20        79.8%            -      84.6%
    """
    if not isinstance(rows, (list, tuple)) or not rows:
        raise ValueError(
            "Argument `rows` must be a non-empty list of dicts. "
            f"Received: rows={rows!r}."
        )
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValueError(
                "Argument `rows` must be a non-empty list of dicts. "
                f"Received: rows[{index}] of type {type(row).__name__}."
            )
    if columns is None:
        present = list(dict.fromkeys(key for row in rows for key in row))
        columns = [key for key in DEFAULT_COLUMNS if key in present]
        columns += [key for key in present if key not in DEFAULT_COLUMNS]
    columns = [str(column) for column in columns]
    values = [[row.get(column) for column in columns] for row in rows]
    cells = [[_format_value(value) for value in line] for line in values]
    numeric = [
        all(value is None or _is_number(value) for value in column)
        for column in zip(*values)
    ]
    widths = [max(len(text) for text in column) for column in zip(columns, *cells)]

    def format_line(texts):
        parts = [
            text.rjust(width) if right else text.ljust(width)
            for text, width, right in zip(texts, widths, numeric)
        ]
        return "  ".join(parts).rstrip()

    lines = [format_line(columns), format_line(["-" * width for width in widths])]
    lines += [format_line(line) for line in cells]
    return "\n".join(lines)


def _is_number(value):
    if isinstance(value, dict):
        value = value.get("accuracy")
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _format_value(value):
    if isinstance(value, dict):
        value = value.get("accuracy")
    if value is None or (isinstance(value, numbers.Real) and math.isnan(value)):
        return "-"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return f"{100 * float(value):.1f}%"
    return str(value)
