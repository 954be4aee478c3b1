"""`load`: one entry point for the embedded datasets and the user's own data."""

import difflib
import os

from keras_ssl.datasets.fashion_mnist import load_fashion_mnist
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
