import math
import numbers

import numpy as np

from keras_ssl.visualization._figure import check_png_path, new_figure, save_png

_COLUMNS = 3


def plot_history(history, path, metrics=None, x=None, x_label=None, title=None):
    """Plots training curves to a PNG: the loss first, then every other metric.

    One panel per metric; a validation series (`val_<name>`) shares the
    panel of `<name>`, dashed. Values that are not finite (a diverged loss)
    are left out of the line, so the rest of the curve still shows.

    Args:
        history: the training record, one of:
            - a dict `{metric name: sequence of numbers}`, e.g. the
              per-epoch `History.history` of `model.fit` (the `"history"` of
              `keras_ssl.app.pretrain`);
            - an object with such a dict as its `history` attribute (the
              `keras.callbacks.History` that `fit` returns);
            - a list of dicts, one per logged step or epoch, e.g. the `logs`
              a callback collects in `on_train_batch_end` (a metric missing
              from a record is a gap).
        path: where to write the PNG (must end in `.png`; its folder is
            created).
        metrics: optional list of the metric names to plot, in order;
            defaults to all of them, the loss first.
        x: optional x values shared by every series (e.g. optimizer steps),
            one per record; defaults to 1, 2, 3, ...
        x_label: the x-axis label; defaults to `"epoch"` for a dict or a
            `History`, `"step"` for a list of records.
        title: optional figure title.

    Returns:
        `path`.

    Example:

    >>> plot_history({"loss": [2.3, 1.7, 1.4], "accuracy": [0.2, 0.5, 0.6]},
    ...              "curves.png")
    'curves.png'
    """
    series, default_label = _series(history)
    if metrics is not None:
        if isinstance(metrics, str) or not isinstance(metrics, list | tuple):
            raise ValueError(
                "Argument `metrics` must be a list of metric names. "
                f"Received: metrics={metrics!r}"
            )
        unknown = [m for m in metrics if m not in series]
        if unknown or not metrics:
            raise ValueError(
                f"Argument `metrics` must name recorded metrics {sorted(series)}. "
                f"Received: metrics={list(metrics)!r}"
            )
        series = {m: series[m] for m in metrics}
    if x is not None:
        x = _numbers(x, "x")
        if not np.isfinite(x).all():
            raise ValueError(
                f"Argument `x` must be finite. Received: x={x.tolist()}"[:300]
            )
        for name, values in series.items():
            if len(values) != len(x):
                raise ValueError(
                    "Argument `x` must have one value per record. Received: "
                    f"len(x)={len(x)}, but metric {name!r} has {len(values)} values"
                )
    path = check_png_path(path)
    from matplotlib.ticker import MaxNLocator

    panels = _panels(series)
    integral = x is None or bool(np.all(np.mod(x, 1) == 0))
    columns = min(len(panels), _COLUMNS)
    rows = math.ceil(len(panels) / columns)
    figure = new_figure(4.2 * columns, 3.2 * rows + (0.4 if title else 0))
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, (name, names) in zip(axes, panels):
        for key in names:
            values = series[key]
            xs = _x(x, values)
            finite = np.isfinite(values)
            validation = key.startswith("val_")
            ax.plot(
                xs[finite],
                values[finite],
                linestyle="--" if validation else "-",
                marker="o" if finite.sum() <= 30 else None,
                markersize=3,
                label="validation" if validation else "training",
            )
            if not finite.any():
                ax.text(
                    0.5,
                    0.5,
                    "no finite values",
                    transform=ax.transAxes,
                    ha="center",
                    va="center",
                )
        ax.set_title(name)
        ax.set_xlabel(x_label or default_label)
        if integral:  # no tick at epoch 1.5
            shown = np.unique(np.concatenate([_x(x, series[k]) for k in names]))
            if len(shown) <= 2:
                ax.set_xticks(shown)
            else:
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if len(names) > 1:
            ax.legend(fontsize="small")
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    if title:
        figure.suptitle(title)
    return save_png(figure, path)


def _x(x, values):
    return x if x is not None else np.arange(1, len(values) + 1)


def _series(history):
    """`{name: float array}` and the default x label."""
    record = getattr(history, "history", None)
    if isinstance(record, dict):
        history = record
    if isinstance(history, dict):
        label = "epoch"
        if not history:
            raise ValueError(
                "Argument `history` must hold at least one metric. Received: {}"
            )
        series = {}
        for name, values in history.items():
            series[_name(name)] = _numbers(values, f"history[{name!r}]")
    elif isinstance(history, list | tuple):
        label = "step"
        if not history or not all(isinstance(r, dict) for r in history):
            raise ValueError(
                "Argument `history` must be a dict of metric sequences, a "
                "keras History, or a non-empty list of dicts (one per step). "
                f"Received: a {type(history).__name__} of "
                f"{[type(r).__name__ for r in history[:3]]}..."
            )
        names = list(dict.fromkeys(_name(k) for r in history for k in r))
        if not names:
            raise ValueError(
                "Argument `history` must hold at least one metric. Received: "
                "records without keys"
            )
        series = {
            name: _numbers(
                [r.get(name, math.nan) for r in history], f"history[*][{name!r}]"
            )
            for name in names
        }
    else:
        raise ValueError(
            "Argument `history` must be a dict of metric sequences, a keras "
            "History, or a list of dicts (one per step). Received: "
            f"{type(history).__name__}"
        )
    return series, label


def _name(name):
    if not isinstance(name, str) or not name:
        raise ValueError(f"Metric names must be non-empty strings. Received: {name!r}")
    return name


def _numbers(values, what):
    """A non-empty 1-D float array, or a clear error."""
    error = ValueError(
        f"`{what}` must be a non-empty sequence of numbers. Received: {values!r}"[:300]
    )
    if isinstance(values, str | bytes | dict) or not hasattr(values, "__iter__"):
        raise error
    out = []
    for value in values:
        if isinstance(value, bool | np.bool_):
            raise error
        if not isinstance(value, numbers.Real):
            # 0-d arrays and eager tensors.
            try:
                value = np.asarray(value)
            except Exception:
                raise error from None
            if value.ndim != 0 or value.dtype.kind not in "iuf":
                raise error
        out.append(float(value))
    if not out:
        raise error
    return np.asarray(out, dtype="float64")


def _panels(series):
    """`[(panel title, [series names])]`: the loss first, `val_x` with `x`."""
    panels = {}
    for name in series:
        base = name[4:] if name.startswith("val_") and name[4:] else name
        panels.setdefault(base, []).append(name)
    for names in panels.values():
        names.sort(key=lambda n: n.startswith("val_"))
    order = sorted(panels, key=lambda b: (b != "loss", "loss" not in b))
    return [(base, panels[base]) for base in order]
