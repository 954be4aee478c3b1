"""The PNG figures: valid files of a plausible size, clear errors on bad input."""

import os
import struct

import numpy as np
import pytest

from keras_ssl.visualization import (
    plot_baseline_bars,
    plot_embedding_map,
    plot_history,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

ROWS = [
    {
        "task": "fashion_mnist",
        "protocol": "linear probe",
        "ssl": 0.852,
        "random_init": 0.793,
        "raw_input": 0.793,
    },
    {
        "task": "fashion_mnist",
        "protocol": "kNN k=20",
        "ssl": {"accuracy": 0.86},  # a result dict, as linear_probe returns
        "random_init": 0.794,
        "raw_input": None,  # missing bar
    },
    {
        "task": "wordnet_nouns",
        "protocol": "fine-tune 4 ep (8000)",
        "ssl": 0.716,
        "random_init": 0.704,
        "raw_input": 0.712,
    },
]


def png_size(path):
    """(width, height) from a PNG's IHDR chunk; fails unless a PNG."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def check_png(path, min_size=(300, 200), max_size=(4000, 4000)):
    """A readable PNG of a plausible size that is not a blank canvas."""
    import matplotlib.image

    assert os.path.isfile(path)
    width, height = png_size(path)
    assert min_size[0] <= width <= max_size[0], width
    assert min_size[1] <= height <= max_size[1], height
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[:2] == (height, width)
    assert pixels[..., :3].std() > 0.01  # something was drawn
    # Written atomically: no temporary file left next to it.
    assert [n for n in os.listdir(os.path.dirname(path)) if ".tmp-" in n] == []
    return width, height


def test_plot_history_per_epoch_dict_and_keras_history(tmp_path):
    history = {
        "loss": [5.1, 4.2, 3.9, 3.7],
        "val_loss": [5.0, 4.5, 4.0, 3.9],
        "contrastive_accuracy": [0.3, 0.5, 0.6, 0.65],
        "learning_rate": np.array([1e-3, 2e-3, 1.5e-3, 5e-4]),
    }
    path = str(tmp_path / "curves.png")
    assert plot_history(history, path, title="SimCLR") == path
    width, height = check_png(path)
    assert width > height  # three panels side by side

    class FakeHistory:  # the shape of keras.callbacks.History
        def __init__(self, history):
            self.history = history

    other = str(tmp_path / "sub" / "from_history.png")  # folder created
    plot_history(FakeHistory({"loss": [1.0, 0.5]}), other, metrics=["loss"])
    check_png(other)


def test_plot_history_per_step_records_with_gaps(tmp_path):
    records = [{"loss": float(np.exp(-i / 50))} for i in range(200)]
    records[10]["loss"] = float("nan")  # a diverged value is left out
    records[20]["accuracy"] = 0.5  # only some records have this metric
    path = plot_history(
        records, tmp_path / "steps.png", x=np.arange(200) * 10, x_label="step"
    )
    check_png(path)


@pytest.mark.parametrize(
    "history, kwargs, match",
    [
        ({}, {}, "at least one metric"),
        ({"loss": []}, {}, "non-empty sequence of numbers"),
        ({"loss": ["a", "b"]}, {}, "non-empty sequence of numbers"),
        ({"loss": 3.0}, {}, "non-empty sequence of numbers"),
        ({"loss": [1.0, True]}, {}, "non-empty sequence of numbers"),
        ([], {}, "list of dicts"),
        ([{"loss": 1.0}, 2.0], {}, "list of dicts"),
        ("loss", {}, "Received: str"),
        ({"loss": [1.0, 2.0]}, {"metrics": ["acc"]}, "must name recorded"),
        ({"loss": [1.0, 2.0]}, {"metrics": "loss"}, "list of metric names"),
        ({"loss": [1.0, 2.0]}, {"x": [1, 2, 3]}, "one value per record"),
        ({"loss": [1.0, 2.0]}, {"x": [1, float("inf")]}, "must be finite"),
        ({"loss": [1.0]}, {"path": "curves.jpg"}, "ending in '.png'"),
        ({"loss": [1.0]}, {"path": 3}, "ending in '.png'"),
    ],
)
def test_plot_history_bad_input(tmp_path, history, kwargs, match):
    path = kwargs.pop("path", str(tmp_path / "out.png"))
    if isinstance(path, str):
        path = str(tmp_path / path)
    with pytest.raises(ValueError, match=match):
        plot_history(history, path, **kwargs)
    assert os.listdir(tmp_path) == []


def blobs(num=300, dim=16, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, num)
    centres = rng.normal(size=(classes, dim)) * 5
    return centres[labels] + rng.normal(size=(num, dim)), labels


def test_plot_embedding_map_tsne_subsamples(tmp_path):
    embeddings, labels = blobs(num=120)
    path = plot_embedding_map(
        embeddings,
        labels,
        str(tmp_path / "map.png"),
        label_names=["a", "b", "c", "d"],
        max_points=60,
    )
    check_png(path)


def test_plot_embedding_map_pca_many_classes_and_float_labels(tmp_path):
    embeddings, labels = blobs(num=400, dim=8, classes=26, seed=1)
    path = plot_embedding_map(
        embeddings.astype("float32"),
        labels.astype("float64"),  # integral floats are accepted
        str(tmp_path / "map.png"),
        method="pca",
    )
    check_png(path)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"embeddings": np.zeros((10,))}, "2-D array"),
        ({"embeddings": np.zeros((2, 4))}, "at least 3 examples"),
        ({"embeddings": np.zeros((10, 1))}, "dim >= 2"),
        ({"embeddings": np.full((10, 4), np.nan)}, "must be finite"),
        ({"embeddings": [["a", "b"]] * 4}, "numeric array"),
        ({"labels": np.zeros(9, "int64")}, "one per embedding"),
        ({"labels": np.full(10, 0.5)}, "integer class ids"),
        ({"labels": np.full(10, -1)}, "must be >= 0"),
        ({"label_names": ["a"]}, "must name every class"),
        ({"label_names": "ab"}, "list of class names"),
        ({"method": "lda"}, "one of"),
        ({"max_points": 2}, "max_points"),
        ({"max_points": 10.5}, "must be an int"),
        ({"path": "map.svg"}, "ending in '.png'"),
    ],
)
def test_plot_embedding_map_bad_input(tmp_path, change, match):
    args = {
        "embeddings": np.random.default_rng(0).normal(size=(10, 4)),
        "labels": np.arange(10) % 2,
        "path": str(tmp_path / "map.png"),
        "label_names": None,
        **change,
    }
    args["path"] = str(tmp_path / args["path"])  # absolute paths stay
    with pytest.raises(ValueError, match=match):
        plot_embedding_map(**args)
    assert os.listdir(tmp_path) == []


def test_plot_embedding_map_umap_needs_its_package(tmp_path):
    try:
        import umap  # noqa: F401

        pytest.skip("umap-learn is installed")
    except ImportError:
        pass
    embeddings, labels = blobs(num=20)
    with pytest.raises(ImportError, match="umap-learn"):
        plot_embedding_map(embeddings, labels, str(tmp_path / "m.png"), method="umap")


def test_plot_baseline_bars_few_and_many_rows(tmp_path):
    path = plot_baseline_bars(ROWS, str(tmp_path / "bars.png"), title="demo")
    width, height = check_png(path)
    assert width > height  # vertical groups side by side

    # A benchmark of many methods: horizontal bars, one row per line.
    many = [
        {**row, "task": f"method_{i}"} for i in range(6) for row in ROWS if row["ssl"]
    ]
    path = plot_baseline_bars(many, str(tmp_path / "many.png"))
    width, height = check_png(path)
    assert height > width

    # Other columns, e.g. only SSL vs random-init.
    path = plot_baseline_bars(
        [{"protocol": "probe", "ssl": 0.5, "random_init": 0.4}],
        str(tmp_path / "two.png"),
        columns=["ssl", "random_init"],
    )
    check_png(path)


@pytest.mark.parametrize(
    "rows, kwargs, match",
    [
        ([], {}, "non-empty list of dicts"),
        ({"ssl": 0.5}, {}, "non-empty list of dicts"),
        ([{"ssl": 0.5}, 0.5], {}, r"rows\[1\] of type float"),
        ([{"task": "x", "accuracy": 0.5}], {}, "at least one of the keys"),
        ([{"ssl": 85.2}], {}, r"accuracies in \[0, 1\].*rows\[0\]\['ssl'\]=85.2"),
        ([{"ssl": "85%"}], {}, "accuracies in"),
        ([{"ssl": None, "random_init": float("nan")}], {}, "no accuracy"),
        ([{"ssl": 0.5}], {"columns": "ssl"}, "non-empty list of keys"),
        ([{"ssl": 0.5}], {"path": "bars.pdf"}, "ending in '.png'"),
    ],
)
def test_plot_baseline_bars_bad_input(tmp_path, rows, kwargs, match):
    path = str(tmp_path / kwargs.pop("path", "bars.png"))
    with pytest.raises(ValueError, match=match):
        plot_baseline_bars(rows, path, **kwargs)
    assert os.listdir(tmp_path) == []


def test_existing_file_is_replaced_and_directory_refused(tmp_path):
    path = tmp_path / "bars.png"
    path.write_bytes(b"old")
    plot_baseline_bars(ROWS, str(path))
    check_png(str(path))
    os.mkdir(tmp_path / "folder.png")
    with pytest.raises(ValueError, match="is a directory"):
        plot_baseline_bars(ROWS, str(tmp_path / "folder.png"))
