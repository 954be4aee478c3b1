"""Shared helpers: output-path checks, Agg figures, atomic PNG writes."""

import os


def check_png_path(path):
    """Returns `path` as a str ending in `.png`, its folder created."""
    if not isinstance(path, str | os.PathLike):
        raise ValueError(
            "Argument `path` must be a file path ending in '.png'. "
            f"Received: path={path!r} of type {type(path).__name__}"
        )
    path = os.fspath(path)
    if not path.lower().endswith(".png") or os.path.basename(path) in ("", ".png"):
        raise ValueError(
            f"Argument `path` must be a file path ending in '.png'. Received: {path!r}"
        )
    if os.path.isdir(path):
        raise ValueError(f"Argument `path` is a directory. Received: {path!r}")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise ValueError(
            f"Cannot create the folder of `path`. Received: {path!r} ({e.strerror})"
        ) from e
    return path


def new_figure(width, height):
    """A matplotlib `Figure` on an Agg canvas (no pyplot, no global state)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - matplotlib is a dependency
        raise ImportError(
            "keras_ssl.visualization needs matplotlib: pip install matplotlib"
        ) from e
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_png(figure, path):
    """Writes `figure` to `path` atomically: a temporary file, then a rename."""
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{name}.tmp-{os.getpid()}.png")
    try:
        figure.savefig(tmp, format="png")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
