"""Fashion-MNIST from local IDX files (Debian `dataset-fashion-mnist`)."""

import gzip
import logging
import os
import zlib

import keras
import numpy as np

from keras_ssl.datasets import _paths
from keras_ssl.datasets.labeled_data import LabeledData

logger = logging.getLogger(__name__)

ENV_VAR = "KERAS_SSL_FASHION_MNIST_DIR"
DEFAULT_DIRS = (
    "/usr/share/datasets/fashion-mnist",
    "~/.keras/datasets/fashion-mnist",
)
CLASS_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
_PREFIX = {"train": "train", "test": "t10k"}
_IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
_LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension


def load_fashion_mnist(split="train", data_dir=None, download=None):
    """Loads Fashion-MNIST (28x28 greyscale clothing images, 10 classes).

    Local copies are used first, in this order: `data_dir`, the directory in
    the environment variable `KERAS_SSL_FASHION_MNIST_DIR`, the Debian package
    location `/usr/share/datasets/fashion-mnist`, and the Keras cache
    `~/.keras/datasets/fashion-mnist`. A directory qualifies when it holds
    the IDX files of the split (`train-images-idx3-ubyte` and
    `train-labels-idx1-ubyte`, or the `t10k-*` pair for the test split),
    gzipped or not.

    Nothing is fetched from the network unless you ask: without a local
    copy, `keras.datasets.fashion_mnist.load_data()` downloads the data only
    with `download=True` (or, with `download=None`, when the environment
    variable `KERAS_SSL_ALLOW_DOWNLOAD=1` is set, e.g. for the command
    line); otherwise a `FileNotFoundError` says where the files were looked
    for and how to get them.

    Args:
        split: `"train"` (60,000 images) or `"test"` (10,000 images).
        data_dir: Optional directory holding the IDX files.
        download: Whether to download the data (with Keras) when no local
            copy exists. `None` (default) asks `KERAS_SSL_ALLOW_DOWNLOAD`,
            which is off unless set.

    Returns:
        A `LabeledData` with `x` of shape `(N, 28, 28, 1)` and dtype `uint8`,
        `y` of dtype `int64` in `[0, 10)`, and the 10 class names.

    Example:

    >>> train = keras_ssl.datasets.load_fashion_mnist("train")
    >>> train.x.shape
    (60000, 28, 28, 1)
    """
    if split not in _PREFIX:
        raise ValueError(
            "Invalid `split` for Fashion-MNIST. "
            f"Received: split={split!r}. Expected one of ['train', 'test']."
        )
    allow_download = _paths.download_allowed(download)
    images_name = f"{_PREFIX[split]}-images-idx3-ubyte"
    labels_name = f"{_PREFIX[split]}-labels-idx1-ubyte"
    candidates = _paths.candidate_dirs(data_dir, ENV_VAR, DEFAULT_DIRS)
    for _, directory in candidates:
        if directory is None:
            continue
        images_path = _find_idx(directory, images_name)
        labels_path = _find_idx(directory, labels_name)
        if images_path and labels_path:
            x = read_idx(images_path, _IMAGES_MAGIC)
            y = read_idx(labels_path, _LABELS_MAGIC)
            if len(x) != len(y):
                raise ValueError(
                    f"Fashion-MNIST files disagree in {directory!r}: "
                    f"{len(x)} images but {len(y)} labels."
                )
            return _labeled(x, y, split)

    if allow_download:
        x, y = _download(split)
        if x is not None:
            return _labeled(x, y, split)
        tried = "  - keras.datasets.fashion_mnist.load_data() (download failed)\n"
    else:
        tried = (
            "  - no download: not asked for (pass `download=True`, or set "
            f"{_paths.DOWNLOAD_ENV_VAR}=1, to let Keras download it)\n"
        )
    raise FileNotFoundError(
        f"Could not find the Fashion-MNIST {split!r} files. Expected "
        f"{images_name}[.gz] and {labels_name}[.gz] in one of the places "
        f"searched:\n{_paths.searched_list(candidates)}\n"
        f"{tried}"
        "To get the data, run `apt-get install dataset-fashion-mnist` (Debian/"
        f"Ubuntu), or download the IDX files and set {ENV_VAR} to their directory "
        "(or pass `data_dir=`)."
    )


def read_idx(path, expected_magic):
    """Reads an IDX file (optionally gzipped) into a NumPy array.

    Args:
        path: Path of the file; a `.gz` suffix means gzip-compressed.
        expected_magic: The expected 4-byte magic number, e.g. `0x00000803`
            for a 3-D array of unsigned bytes.

    Returns:
        A `uint8` NumPy array with the dimensions stored in the header.
    """
    path = os.fspath(path)
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                data = f.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise ValueError(f"Corrupt or truncated gzip file {path!r}: {e}") from e
    if len(data) < 4:
        raise ValueError(f"Truncated IDX file {path!r}: {len(data)} bytes.")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        raise ValueError(
            f"Not a valid IDX file {path!r}: magic number {magic:#010x}, "
            f"expected {expected_magic:#010x}."
        )
    ndim = magic & 0xFF
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(f"Truncated IDX header in {path!r}.")
    shape = tuple(np.frombuffer(data, dtype=">u4", count=ndim, offset=4).tolist())
    expected_size = header_size + int(np.prod(shape))
    if len(data) != expected_size:
        raise ValueError(
            f"Corrupt or truncated IDX file {path!r}: header says shape {shape} "
            f"({expected_size} bytes), but the file has {len(data)} bytes."
        )
    array = np.frombuffer(data, dtype=np.uint8, offset=header_size)
    return array.reshape(shape).copy()  # Writable, not tied to `data`.


def _find_idx(directory, filename):
    """Returns the path of `filename` or `filename.gz` in `directory`, or None."""
    for name in (filename, filename + ".gz"):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def _labeled(x, y, split):
    return LabeledData(
        x=x[..., np.newaxis],
        y=np.asarray(y, dtype=np.int64),
        label_names=list(CLASS_NAMES),
        name=f"fashion_mnist/{split}",
    )


def _download(split):
    """Falls back to the Keras downloader; returns `(None, None)` on failure."""
    try:
        train, test = keras.datasets.fashion_mnist.load_data()
    except Exception as e:  # No network, proxy errors, bad checksums, ...
        logger.warning("Downloading Fashion-MNIST with Keras failed: %s", e)
        return None, None
    return train if split == "train" else test
