"""Loaders for the user's own data: image folders, text, CSV, arrays, TFDS."""

import codecs
import csv
import difflib
import io
import logging
import os
import re

import numpy as np
import tensorflow as tf

from keras_ssl.datasets import _paths
from keras_ssl.datasets.labeled_data import LabeledData

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
_CHANNELS = {"grayscale": 1, "rgb": 3}


def load_image_folder(
    path, image_size=None, color_mode="grayscale", skip_invalid=False
):
    """Loads images from a folder with one subfolder per class.

    `path/<class_name>/<image>` files are read (subfolders recursively),
    classes are the subfolder names in sorted order. PNG, JPEG, BMP and GIF
    (first frame) files are decoded; other files are ignored. Every image is
    converted to `color_mode`, so a folder mixing greyscale and colour files
    loads as one array.

    A file with an image extension that does not decode (corrupt,
    truncated, or not an image) is an error naming the file; with
    `skip_invalid=True` such files are skipped instead, and their number is
    logged as a warning (`"Skipped N undecodable image file(s) ..."`).

    Args:
        path: The root folder.
        image_size: Optional `(height, width)` to resize every image to.
            Without it, all images must already have the same size.
        color_mode: `"grayscale"` (1 channel) or `"rgb"` (3 channels).
        skip_invalid: Skip (and count) undecodable files instead of raising.

    Returns:
        A `LabeledData` with `uint8` images of shape `(N, H, W, C)`, labels
        and the class names.

    Example:

    >>> import os, tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> root = tmp.name
    >>> for label in ("cats", "dogs"):
    ...     os.makedirs(os.path.join(root, label))
    ...     png = tf.io.encode_png(np.zeros((8, 8, 3), "uint8"))
    ...     tf.io.write_file(os.path.join(root, label, "1.png"), png)
    >>> data = keras_ssl.datasets.load_image_folder(root, image_size=(4, 4))
    >>> data.x.shape, data.label_names
    ((2, 4, 4, 1), ['cats', 'dogs'])
    """
    path = os.fspath(path)
    if color_mode not in _CHANNELS:
        close = difflib.get_close_matches(str(color_mode).lower(), _CHANNELS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"Invalid `color_mode`. Received: color_mode={color_mode!r}. "
            f"Expected one of {list(_CHANNELS)}.{hint}"
        )
    if not isinstance(skip_invalid, bool):
        raise ValueError(
            "Argument `skip_invalid` must be True or False. "
            f"Received: skip_invalid={skip_invalid!r}"
        )
    if image_size is not None and (
        not isinstance(image_size, tuple | list)
        or len(image_size) != 2
        or not all(isinstance(s, int) and s > 0 for s in image_size)
    ):
        raise ValueError(
            "`image_size` must be None or a tuple of two positive integers "
            f"(height, width). Received: image_size={image_size!r}."
        )
    if not os.path.isdir(path):
        raise ValueError(f"`path` must be an existing folder. Received: path={path!r}.")
    class_names = sorted(
        entry.name
        for entry in os.scandir(path)
        if entry.is_dir() and not entry.name.startswith(".")
    )
    images, labels, invalid = [], [], []
    for label, class_name in enumerate(class_names):
        for file_path in _image_files(os.path.join(path, class_name)):
            try:
                image = _decode_image(file_path, _CHANNELS[color_mode], image_size)
            except ValueError:
                if not skip_invalid:
                    raise
                invalid.append(file_path)
                continue
            images.append(image)
            labels.append(label)
            if images[-1].shape != images[0].shape:
                raise ValueError(
                    f"Images have different sizes. Received: {file_path!r} "
                    f"with shape {images[-1].shape} after images of shape "
                    f"{images[0].shape}. Expected one size; pass "
                    "`image_size=(height, width)` to resize them."
                )
    if invalid:
        logger.warning(
            "Skipped %d undecodable image file(s) in %r (corrupt, truncated or "
            "not images), e.g. %r.",
            len(invalid),
            path,
            invalid[0],
        )
    _check_not_empty(
        len(images),
        f"image folder {path!r} (expected subfolders per class holding "
        f"{', '.join(IMAGE_EXTENSIONS)} files"
        + (f"; {len(invalid)} undecodable file(s) skipped" if invalid else "")
        + ")",
    )
    return LabeledData(
        x=np.stack(images),
        y=np.asarray(labels, dtype=np.int64),
        label_names=class_names,
        name=os.path.basename(os.path.normpath(path)),
    )


def _image_files(folder):
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(IMAGE_EXTENSIONS):
                yield os.path.join(root, name)


def _decode_image(file_path, channels, image_size):
    try:
        with open(file_path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ValueError(
            f"Could not read image file {file_path!r}: {e.strerror}."
        ) from None
    try:
        if data[:3] == b"GIF" and channels == 1:
            # GIFs decode to RGB only: take the first frame, then grey.
            image = tf.image.rgb_to_grayscale(tf.io.decode_gif(data)[0])
        else:
            image = tf.io.decode_image(data, channels=channels, expand_animations=False)
    except tf.errors.OpError as e:
        raise ValueError(
            f"Could not decode image file {file_path!r} ({len(data)} bytes): "
            f"{_op_error_reason(e)}. Expected a complete PNG, JPEG, BMP or GIF "
            "file; remove the file, or pass `skip_invalid=True` to skip "
            "undecodable files."
        ) from None
    if image_size is not None:
        image = tf.image.resize(image, image_size, antialias=True)
        image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
    return image.numpy()


def _op_error_reason(error):
    """The first line of a TensorFlow op error, without TF's decorations."""
    message = error.message.split("\n")[0]
    message = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", message)
    message = re.sub(r"\s*\[Op:\w+\].*$", "", message)
    return message.strip().rstrip(".") or type(error).__name__


def load_text_file(path, encoding="utf-8"):
    """Loads a text file with one document per line.

    Surrounding whitespace is stripped; empty lines are skipped and their
    number is logged.

    Args:
        path: Path of the text file.
        encoding: Its encoding (`"utf-8"`, `"latin-1"`, `"cp1252"`, ...).

    Returns:
        An unlabelled `LabeledData` whose `x` is an object array of `str`.

    Example:

    >>> import os, tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "corpus.txt")
    >>> with open(path, "w", encoding="utf-8") as f:
    ...     _ = f.write("A first document.\\n\\nA second one.\\n")
    >>> docs = keras_ssl.datasets.load_text_file(path)
    >>> list(docs.x)
    ['A first document.', 'A second one.']
    """
    path = os.fspath(path)
    lines = _read_utf8(path, encoding).split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # A final newline does not start another document.
    texts = [line.strip() for line in lines]
    texts = [text for text in texts if text]
    skipped = len(lines) - len(texts)
    if skipped:
        logger.warning("Skipped %d empty line(s) in %r.", skipped, path)
    _check_not_empty(len(texts), f"text file {path!r}")
    return LabeledData(x=_object_array(texts), name=os.path.basename(path))


def load_csv(path, text_column, label_column=None, encoding="utf-8"):
    """Loads texts (and optional labels) from a CSV file with a header.

    Labels are mapped to integers in the sorted order of their distinct
    values (numerically when every label is an integer). Rows with an empty
    text are skipped and their number is logged.

    Args:
        path: Path of the CSV file; its first row names the columns.
        text_column: Name of the column holding the texts.
        label_column: Optional name of the column holding the labels.
        encoding: The file's encoding (default UTF-8).

    Returns:
        A `LabeledData` of `str` texts, with labels and `label_names` when
        `label_column` is given.

    Example:

    >>> import os, tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "reviews.csv")
    >>> with open(path, "w", encoding="utf-8") as f:
    ...     _ = f.write("text,sentiment\\ngreat film,pos\\ndull film,neg\\n")
    >>> data = keras_ssl.datasets.load_csv(path, "text", "sentiment")
    >>> list(data.x), data.y.tolist(), data.label_names
    (['great film', 'dull film'], [1, 0], ['neg', 'pos'])
    """
    path = os.fspath(path)
    reader = csv.DictReader(io.StringIO(_read_utf8(path, encoding), newline=""))
    columns = reader.fieldnames or []
    for arg, column in (("text_column", text_column), ("label_column", label_column)):
        if column is not None and column not in columns:
            raise ValueError(
                f"Column not found in {path!r}. Received: {arg}={column!r}. "
                f"Expected one of the columns present: {columns}."
            )
    texts, raw_labels = [], []
    skipped = 0
    for row_number, row in enumerate(reader, start=2):
        text = (row[text_column] or "").strip()
        if not text:
            skipped += 1
            continue
        texts.append(text)
        if label_column is not None:
            label = (row[label_column] or "").strip()
            if not label:
                raise ValueError(
                    f"Missing label in {path!r}, row {row_number} (column "
                    f"{label_column!r}). Received: an empty cell. Expected a "
                    "label in every row that has a text."
                )
            raw_labels.append(label)
    if skipped:
        logger.warning("Skipped %d row(s) with empty text in %r.", skipped, path)
    _check_not_empty(len(texts), f"CSV file {path!r}")
    y = label_names = None
    if label_column is not None:
        label_names = sorted(set(raw_labels), key=_label_sort_key(raw_labels))
        index = {name: i for i, name in enumerate(label_names)}
        y = np.asarray([index[label] for label in raw_labels], dtype=np.int64)
    return LabeledData(
        x=_object_array(texts),
        y=y,
        label_names=label_names,
        name=os.path.basename(path),
    )


def csv_columns(path):
    """The column names in the header row of a UTF-8 CSV file."""
    path = os.fspath(path)
    reader = csv.reader(io.StringIO(_read_utf8(path), newline=""))
    return next(reader, [])


def _label_sort_key(labels):
    try:
        [int(label) for label in labels]
    except ValueError:
        return None
    return int


def from_arrays(x, y=None, label_names=None, name="arrays"):
    """Wraps (and validates) in-memory arrays as `LabeledData`.

    Args:
        x: Images as an integer array of shape `(N, H, W)` or
            `(N, H, W, C)` with values in `[0, 255]` (stored as `uint8`;
            rank 3 gets a channel axis), or a 1-D array/list of strings.
        y: Optional 1-D integer labels, one per example, non-negative.
        label_names: Optional list of class names (requires `y`), with
            more entries than the largest label.
        name: Name of the data source.

    Returns:
        A `LabeledData`.

    Example:

    >>> images = np.zeros((6, 28, 28), "uint8")
    >>> labels = np.array([0, 1, 2, 0, 1, 2])
    >>> data = keras_ssl.datasets.from_arrays(images, labels, name="mine")
    >>> data.x.shape
    (6, 28, 28, 1)
    """
    x = _validate_x(x)
    if y is not None:
        y = _validate_y(y, len(x))
    if label_names is not None:
        if y is None:
            raise ValueError(
                "`label_names` requires `y`. Received: y=None, "
                f"label_names={label_names!r}."
            )
        label_names = list(label_names)
        too_few = y.max() >= len(label_names)
        if too_few or not all(isinstance(n, str) for n in label_names):
            raise ValueError(
                "`label_names` must be a list of strings with one entry per "
                f"class (more than max(y)={y.max()}). "
                f"Received: label_names={label_names!r}."
            )
    return LabeledData(x=x, y=y, label_names=label_names, name=name)


def _validate_x(x):
    if isinstance(x, list | tuple) and all(isinstance(s, str | bytes) for s in x):
        x = _object_array(x)  # np.asarray cannot mix str and bytes.
    x = np.asarray(x)
    if x.dtype.kind in "USO":
        if x.ndim != 1 or not all(isinstance(s, str | bytes) for s in x):
            raise ValueError(
                "Texts in `x` must be a 1-D array of strings. Received: x with "
                f"shape {x.shape} and dtype {x.dtype}."
            )
        x = _object_array(
            [s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in x]
        )
    elif x.dtype.kind in "ui" and x.ndim in (3, 4):
        if x.size and (x.min() < 0 or x.max() > 255):
            raise ValueError(
                "Image pixels in `x` must lie in [0, 255]. Received: x with "
                f"values in [{x.min()}, {x.max()}]."
            )
        x = x.astype(np.uint8)
        if x.ndim == 3:
            x = x[..., np.newaxis]
    else:
        hint = ""
        if x.dtype.kind == "f":
            hint = (
                " Convert float images first, e.g. `(x * 255).astype('uint8')` "
                "for values in [0, 1]."
            )
        raise ValueError(
            "`x` must be integer images of rank 3 (N, H, W) or 4 (N, H, W, C), "
            "or a 1-D array of strings. Received: x with shape "
            f"{x.shape} and dtype {x.dtype}.{hint}"
        )
    _check_not_empty(len(x), "`x`")
    return x


def _validate_y(y, n):
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "ui" or len(y) != n:
        raise ValueError(
            f"`y` must be a 1-D integer array with one label per example ({n}). "
            f"Received: y with shape {y.shape} and dtype {y.dtype}."
        )
    if y.min() < 0:
        raise ValueError(
            f"`y` must hold non-negative class indices. Received: min(y)={y.min()}."
        )
    return y.astype(np.int64)


def load_tfds(name, split="train", download=None, **kwargs):
    """Loads a TensorFlow Datasets dataset as a `tf.data.Dataset`.

    Requires the optional dependency `tensorflow-datasets`
    (`pip install keras-ssl[tfds]`).

    Nothing is fetched from the network unless you ask: by default the
    dataset must already be prepared in the TFDS data folder
    (`~/tensorflow_datasets`, or `data_dir=`). Pass `download=True` (or, with
    `download=None`, set the environment variable
    `KERAS_SSL_ALLOW_DOWNLOAD=1`, e.g. for the command line) to let TFDS
    download and prepare it.

    Args:
        name: The TFDS name, e.g. `"cifar10"`.
        split: The TFDS split, e.g. `"train"` or `"test[:10%]"`.
        download: Whether TFDS may download the data. `None` (default)
            asks `KERAS_SSL_ALLOW_DOWNLOAD`, which is off unless set.
        **kwargs: Passed to `tfds.load` (`as_supervised=True` by default, so
            elements are `(x, y)` pairs).

    Returns:
        A `tf.data.Dataset`.

    Example:

    >>> ds = keras_ssl.datasets.load_tfds(  # doctest: +SKIP
    ...     "cifar10", split="train", download=True)
    """
    if not isinstance(name, str) or not name:
        raise ValueError(
            f"`name` must be a non-empty TFDS name. Received: name={name!r}."
        )
    allow_download = _paths.download_allowed(download)
    if "try_gcs" in kwargs and kwargs["try_gcs"] and not allow_download:
        raise ValueError(
            "Argument `try_gcs=True` reads from the network. Received: "
            "try_gcs=True with download=False. Expected download=True as well."
        )
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise ImportError(
            f"Loading the TFDS dataset {name!r} requires `tensorflow-datasets`, "
            "which is not installed. Install it with "
            "`pip install keras-ssl[tfds]`."
        ) from e
    base_name = name.split(":")[0].split("/")[0]
    known = tfds.list_builders(with_community_datasets=False)
    if base_name not in known:
        close = difflib.get_close_matches(base_name, known, n=3)
        hint = ""
        if len(close) == 1:
            hint = f" Did you mean {close[0]!r}?"
        elif close:
            hint = f" Did you mean one of {close}?"
        raise ValueError(
            f"Unknown TFDS dataset. Received: name={name!r}. Expected one of "
            f"the {len(known)} datasets of `tfds.list_builders()`.{hint}"
        )
    kwargs.setdefault("as_supervised", True)
    try:
        return tfds.load(name, split=split, download=allow_download, **kwargs)
    except AssertionError as e:  # "could not find data in ..."
        if allow_download:
            raise
        raise FileNotFoundError(
            f"The TFDS dataset is not prepared locally. Received: name={name!r} "
            f"({str(e).split('. Please')[0]}). Expected prepared data: nothing "
            "is downloaded unless asked, so pass `download=True` (or set "
            f"{_paths.DOWNLOAD_ENV_VAR}=1), or prepare it with "
            f"`tfds build {base_name}`."
        ) from None


def _read_utf8(path, encoding="utf-8"):
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"File not found. Received: path={path!r}. Expected an existing "
            "UTF-8 text file."
        )
    codec = _codec(encoding)
    if os.path.isdir(path):
        raise ValueError(f"Expected a file, not a folder. Received: path={path!r}.")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ValueError(f"Could not read {path!r}: {e.strerror}.") from None
    try:
        return data.decode("utf-8-sig" if codec == "utf-8" else codec)
    except UnicodeDecodeError as e:
        line_number = data.count(b"\n", 0, e.start) + 1
        raise ValueError(
            f"{path!r} is not valid {'UTF-8' if codec == 'utf-8' else codec}: "
            f"line {line_number} has an invalid "
            f"byte {data[e.start : e.start + 1]!r}. Received: encoding="
            f"{encoding!r}. Pass the file's encoding (`encoding=`, "
            "`--encoding`, e.g. 'latin-1' or 'cp1252')."
        ) from None


def _codec(encoding):
    try:
        return codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise ValueError(
            f"Unknown text encoding. Received: encoding={encoding!r}. Expected "
            "a codec name such as 'utf-8', 'latin-1', 'cp1252' or 'utf-16'."
        ) from None


def _object_array(strings):
    array = np.empty(len(strings), dtype=object)
    array[:] = list(strings)
    return array


def _check_not_empty(n, source):
    if n == 0:
        raise ValueError(f"The dataset is empty: no examples found in {source}.")
