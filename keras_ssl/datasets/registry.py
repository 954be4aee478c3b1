"""`load`: one entry point for the embedded datasets and the user's own data."""

import difflib
import os

import tensorflow as tf

from keras_ssl.checks import check_choice
from keras_ssl.datasets.fashion_mnist import load_fashion_mnist
from keras_ssl.datasets.labeled_data import LabeledData
from keras_ssl.datasets.streamed_data import StreamedData
from keras_ssl.datasets.streaming_sources import (
    from_dataset,
    stream_csv,
    stream_image_folder,
    stream_text_file,
    stream_tfds,
)
from keras_ssl.datasets.tfrecord_shards import INDEX_NAME, stream_shards
from keras_ssl.datasets.user_data import (
    csv_columns,
    load_csv,
    load_image_folder,
    load_text_file,
    load_tfds,
)
from keras_ssl.datasets.wordnet import load_wordnet

KNOWN_DATASETS = ["fashion_mnist", "wordnet", "wordnet_nouns"]


def load(name, split=None, **kwargs):
    """Loads a dataset by name or path.

    Args:
        name: One of:
            - `"fashion_mnist"` (default split `"train"`),
            - `"wordnet"` (default split `"all"`; `pos` and `data_dir` may be
              passed as keyword arguments), `"wordnet_nouns"` (WordNet with
              `pos="noun"`),
            - a folder of images with one subfolder per class,
            - a `.txt` file (one document per line),
            - a `.csv` file (pass `text_column=` and optionally `label_column=`;
              without them, columns named `text` and `label` are used),
            - `"tfds:<name>"` for a TensorFlow Datasets dataset (default split
              `"train"`); it must be prepared locally unless
              `download=True` is passed (see `load_tfds`).
        split: The split of a named or TFDS dataset; `None` for its default.
            Folders and files have no splits (use `LabeledData.split`).
        **kwargs: Passed on to the specific loader (`load_fashion_mnist`,
            `load_wordnet`, `load_image_folder`, `load_text_file`, `load_csv`,
            `load_tfds`).

    Returns:
        A `LabeledData`, or a `tf.data.Dataset` for `"tfds:<name>"`.

    Example:

    >>> train = keras_ssl.datasets.load("fashion_mnist", split="train")
    >>> nouns = keras_ssl.datasets.load("wordnet_nouns", split="test")
    >>> docs = keras_ssl.datasets.load("corpus.txt")  # doctest: +SKIP
    """
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str):
        raise ValueError(
            f"`name` must be a string or a path. Received: name={name!r} "
            f"of type {type(name)}."
        )
    if name == "fashion_mnist":
        return load_fashion_mnist(split or "train", **kwargs)
    if name == "wordnet":
        return load_wordnet(split or "all", **kwargs)
    if name == "wordnet_nouns":
        return load_wordnet(split or "all", pos="noun", **kwargs)
    if name.startswith("tfds:"):
        return load_tfds(name[len("tfds:") :], split=split or "train", **kwargs)

    is_dir = os.path.isdir(name)
    extension = os.path.splitext(name)[1].lower()
    is_file = os.path.isfile(name) and extension in (".txt", ".csv")
    if (is_dir or is_file) and split is not None:
        raise ValueError(
            f"Folders and files have no predefined splits. Received: "
            f"split={split!r} for name={name!r}. Expected split=None; use "
            "`LabeledData.split()` to make a train/test split."
        )
    if is_dir:
        return load_image_folder(name, **kwargs)
    if is_file and extension == ".txt":
        return load_text_file(name, **kwargs)
    if is_file:
        if "text_column" not in kwargs:
            columns = csv_columns(name)
            if "text" not in columns:
                raise ValueError(
                    f"Loading the CSV file {name!r} needs `text_column=`, the "
                    "name of the column holding the texts (a column named "
                    f"'text' is used by default). Received: columns {columns} "
                    f"and kwargs={sorted(kwargs)}."
                )
            kwargs["text_column"] = "text"
            if "label" in columns:
                kwargs.setdefault("label_column", "label")
        return load_csv(name, **kwargs)

    message = (
        f"Unknown dataset name. Received: name={name!r}. Expected one of "
        f"{KNOWN_DATASETS}, a path to an image folder, a .txt or .csv file, "
        "or 'tfds:<name>'."
    )
    close = difflib.get_close_matches(name, KNOWN_DATASETS, n=1)
    if os.path.isfile(name):
        message += (
            f" {name!r} is a file of an unsupported type ({extension or 'no'} "
            "extension); images go in a folder with one subfolder per class, "
            "texts in a .txt or .csv file."
        )
    elif close:
        message += f" Did you mean {close[0]!r}?"
    elif os.sep in name or extension:
        message += " No folder or .txt/.csv file exists at that path."
    raise ValueError(message)


#: Above these sizes, `load_or_stream(..., stream="auto")` streams a folder
#: (image files) or a text/CSV file (bytes) instead of loading it.
STREAM_ABOVE_FILES = 50_000
STREAM_ABOVE_BYTES = 64 * 2**20


def is_shard_folder(path):
    """Whether `path` is a folder of TFRecord shards (has an index)."""
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, INDEX_NAME))


def stream(name, split=None, **kwargs):
    """Streams a dataset from disk as a `StreamedData` (see `load` for the
    in-memory twin).

    Args:
        name: a folder of TFRecord shards (with `index.json`, from
            `keras-ssl convert`), an image folder, a `.txt` or `.csv` file,
            or `"tfds:<name>"` (prepared locally).
        split: the TFDS split (default `"train"`); files have none.
        **kwargs: passed to `stream_shards`, `stream_image_folder`,
            `stream_text_file`, `stream_csv` or `stream_tfds`.

    Returns:
        A `StreamedData`.

    Example:

    >>> data = keras_ssl.datasets.stream("shards/")  # doctest: +SKIP
    """
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str):
        raise ValueError(
            f"`name` must be a path or 'tfds:<name>'. Received: name={name!r}."
        )
    if name.startswith("tfds:"):
        return stream_tfds(name[len("tfds:") :], split=split or "train", **kwargs)
    if split is not None:
        raise ValueError(
            f"Folders and files have no predefined splits. Received: "
            f"split={split!r} for name={name!r}. Expected split=None."
        )
    if is_shard_folder(name) or os.path.basename(name) == INDEX_NAME:
        return stream_shards(name, **kwargs)
    if os.path.isdir(name):
        return stream_image_folder(name, **kwargs)
    extension = os.path.splitext(name)[1].lower()
    if os.path.isfile(name) and extension == ".txt":
        return stream_text_file(name, **kwargs)
    if os.path.isfile(name) and extension == ".csv":
        return stream_csv(name, **kwargs)
    raise ValueError(
        f"Cannot stream {name!r}. Expected a folder of TFRecord shards (with "
        f"{INDEX_NAME}), an image folder, a .txt or .csv file, or "
        "'tfds:<name>'."
    )


def _is_large(path):
    if os.path.isdir(path):
        count = 0
        for _, _, files in os.walk(path):
            count += len(files)
            if count > STREAM_ABOVE_FILES:
                return True
        return False
    return os.path.isfile(path) and os.path.getsize(path) > STREAM_ABOVE_BYTES


def load_or_stream(dataset, stream_mode="auto", split=None, **kwargs):
    """The training data of a workflow: in memory when small, streamed when
    large or already a stream.

    Args:
        dataset: a name or path (see `load` and `stream`), a `LabeledData`,
            a `StreamedData` or a `tf.data.Dataset` (wrapped by
            `from_dataset`).
        stream_mode: `"auto"` (stream shard folders, TFDS names and
            `tf.data` datasets, and folders of more than
            `STREAM_ABOVE_FILES` files or files over `STREAM_ABOVE_BYTES`;
            load the rest), `True` (stream whatever can be) or `False`
            (load in memory).
        split: the split of a named dataset.
        **kwargs: passed to the loader.

    Returns:
        A `LabeledData` or a `StreamedData`.
    """
    check_choice("stream", stream_mode, ("auto", True, False))
    if isinstance(dataset, LabeledData | StreamedData):
        return dataset
    if isinstance(dataset, tf.data.Dataset):
        return from_dataset(dataset)
    if isinstance(dataset, os.PathLike):
        dataset = os.fspath(dataset)
    if not isinstance(dataset, str):
        raise ValueError(
            "Argument `dataset` must be a dataset name, a path, a LabeledData, "
            "a StreamedData or a tf.data.Dataset. Received: dataset of type "
            f"{type(dataset).__name__}"
        )
    named = dataset in KNOWN_DATASETS
    if named and stream_mode is True:
        raise ValueError(
            f"The embedded dataset {dataset!r} is loaded in memory. Received: "
            "stream=True. Convert it to shards (`keras-ssl convert`) to stream it."
        )
    streamable = dataset.startswith("tfds:") or is_shard_folder(dataset)
    if not named and (
        stream_mode is True
        or streamable
        or (stream_mode == "auto" and _is_large(dataset))
    ):
        return stream(dataset, split=split, **kwargs)
    return load(dataset, split=split, **kwargs)
