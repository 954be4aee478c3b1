"""TFRecord shards: `write_shards` (the `keras-ssl convert` command) and
`stream_shards`, with a JSON index holding counts, classes, the image shape
and a SHA-256 checksum per shard."""

import codecs
import csv
import hashlib
import json
import logging
import os
import shutil

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.atomic_io import temporary_path
from keras_ssl.checks import check_bool, check_choice, check_positive_int
from keras_ssl.datasets.labeled_data import LabeledData
from keras_ssl.datasets.streamed_data import StreamedData
from keras_ssl.datasets.streaming_sources import (
    _scan_csv,
    check_image_size,
    check_min_side,
    decode_bytes,
    decode_image,
    stream_text_file,
)
from keras_ssl.datasets.user_data import (
    _CHANNELS,
    _check_not_empty,
    _codec,
    _image_files,
    _op_error_reason,
)

logger = logging.getLogger("keras_ssl")

INDEX_NAME = "index.json"
#: `image_format="auto"` stores images of at most this many values as raw
#: pixels (4 KiB each), larger ones encoded.
RAW_MAX_VALUES = 4096
FORMAT = "keras_ssl.tfrecord_shards"
VERSION = 1
_INDEX_KEYS = ("modality", "count", "label_names", "image_shape", "shards")
_SHARD_KEYS = ("file", "count", "bytes", "sha256")


def _bytes_feature(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int_feature(value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def _example(key, payload, label):
    features = {key: _bytes_feature(payload)}
    if label is not None:
        features["label"] = _int_feature(label)
    return tf.train.Example(
        features=tf.train.Features(feature=features)
    ).SerializeToString()


def sha256_of(path, chunk=1 << 22):
    """The SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class _ShardWriter:
    """Writes examples into `shard-NNNNN.tfrecord` files of `shard_size`."""

    def __init__(self, folder, shard_size):
        self.folder = folder
        self.shard_size = shard_size
        self.shards = []
        self.writer = None
        self.in_shard = 0

    def write(self, record):
        if self.writer is None:
            name = f"shard-{len(self.shards):05d}.tfrecord"
            self.writer = tf.io.TFRecordWriter(os.path.join(self.folder, name))
            self.shards.append({"file": name, "count": 0})
        self.writer.write(record)
        self.shards[-1]["count"] += 1
        if self.shards[-1]["count"] == self.shard_size:
            self.close()

    def close(self):
        if self.writer is None:
            return
        self.writer.close()
        self.writer = None
        shard = self.shards[-1]
        path = os.path.join(self.folder, shard["file"])
        shard["bytes"] = os.path.getsize(path)
        shard["sha256"] = sha256_of(path)


def _store_raw(image_format, shape):
    """Whether images of `shape` are stored as raw pixels."""
    if image_format == "auto":
        return int(np.prod(shape)) <= RAW_MAX_VALUES
    return image_format == "raw"


def _image_records(
    paths_and_labels, channels, image_size, skip_invalid, progress, image_format
):
    """Yields `(payload, label, shape, format)` for image files, validated
    by decoding each once. Raw pixels (see `write_shards`), or the file as
    it is when it is a PNG or JPEG at the target size and channels, or a
    PNG re-encoding."""
    for path, label in paths_and_labels:
        with open(path, "rb") as f:
            data = f.read()
        try:
            image = decode_bytes(data, channels or 0)
        except tf.errors.OpError as e:
            if not skip_invalid:
                raise ValueError(
                    f"Could not decode image file {path!r} ({len(data)} bytes): "
                    f"{_op_error_reason(e)}. Remove the file, or pass "
                    "`skip_invalid=True` (`--skip-invalid`) to skip and count "
                    "undecodable files."
                ) from None
            progress.skipped += 1
            continue
        shape = tuple(image.shape)
        keep = image_size is None or shape[:2] == tuple(image_size)
        if not keep:
            image = tf.image.resize(image, image_size, antialias=True)
            image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
            shape = tuple(image.shape)
        if _store_raw(image_format, shape):
            yield image.numpy().tobytes(), label, shape, "raw"
            continue
        is_original = keep and (tf.io.is_jpeg(data) or data[:4] == b"\x89PNG")
        payload = data if is_original else tf.io.encode_png(image).numpy()
        yield payload, label, shape, _image_format(payload)


class _Progress:
    """A progress bar over the examples written (total set once known)."""

    def __init__(self, verbose):
        self.verbose = verbose
        self.total = None
        self.bar = None
        self.skipped = 0
        self.done = 0

    def step(self):
        self.done += 1
        if self.verbose and self.done % 256 == 0:
            if self.bar is None:
                self.bar = keras.utils.Progbar(self.total, unit_name="example")
            self.bar.update(self.done)

    def finish(self):
        if self.bar is not None:
            self.bar.update(self.done, finalize=True)


def _folder_items(path):
    class_names = sorted(
        e.name for e in os.scandir(path) if e.is_dir() and not e.name.startswith(".")
    )
    items = [
        (file_name, label)
        for label, name in enumerate(class_names)
        for file_name in _image_files(os.path.join(path, name))
    ]
    if not class_names:  # a flat folder: unlabelled
        items = [(file_name, None) for file_name in _image_files(path)]
    return items, class_names or None


def _array_images(x, y, image_format):
    raw = _store_raw(image_format, x.shape[1:])
    for i in range(len(x)):
        image = x[i]
        payload = image.tobytes() if raw else tf.io.encode_png(image).numpy()
        label = None if y is None else int(y[i])
        yield payload, label, tuple(image.shape), "raw" if raw else "png"


def _text_records(texts_and_labels):
    for text, label in texts_and_labels:
        if isinstance(text, str):
            text = text.encode("utf-8")
        yield text, label, None, None


def _text_lines(path, encoding):
    # Lines end at "\n" only and a byte-order mark is dropped, as in
    # `load_text_file`.
    codec = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    with open(path, encoding=codec, errors="strict", newline="\n") as f:
        for line in f:
            line = line.strip()
            if line:
                yield line, None


def _csv_texts(path, encoding, text_column, label_column):
    _, _, label_names, _ = _scan_csv(path, encoding, text_column, label_column)
    ids = {name: i for i, name in enumerate(label_names)}
    codec = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding

    def rows():
        with open(path, encoding=codec, newline="") as f:
            for row in csv.DictReader(f):
                text = (row[text_column] or "").strip()
                if text:
                    label = None
                    if label_column is not None:
                        label = ids[row[label_column].strip()]
                    yield text, label

    return (label_names if label_column is not None else None), rows()


def _source_records(
    source, image_size, color_mode, skip_invalid, text_kw, progress, image_format
):
    """`(modality, label_names, total, records)` of a conversion source."""
    channels = None if color_mode is None else _CHANNELS[color_mode]
    if isinstance(source, LabeledData):
        label_names = source.label_names
        if source.y is not None and label_names is None:  # keep the labels
            label_names = [str(i) for i in range(int(source.y.max()) + 1)]
        if source.x.dtype == object:
            labels = source.y if source.y is not None else [None] * len(source)
            pairs = zip(source.x, labels)
            return "text", label_names, len(source), _text_records(pairs)
        x = source.x
        if image_size is not None and tuple(x.shape[1:3]) != image_size:
            raise ValueError(
                "In-memory images are written at their own size. Received: "
                f"image_size={image_size} for images of {x.shape[1:3]}."
            )
        if channels is not None and x.shape[-1] != channels:
            raise ValueError(
                f"Received: color_mode={color_mode!r} for images with "
                f"{x.shape[-1]} channel(s)."
            )
        records = _array_images(x, source.y, image_format)
        return "image", label_names, len(x), records
    path = os.fspath(source)
    if os.path.isdir(path):
        items, class_names = _folder_items(path)
        _check_not_empty(len(items), f"image folder {path!r}")
        records = _image_records(
            items, channels, image_size, skip_invalid, progress, image_format
        )
        return "image", class_names, len(items), records
    extension = os.path.splitext(path)[1].lower()
    encoding = _codec(text_kw["encoding"])
    if extension == ".txt":
        # Counts the documents and checks the encoding first.
        total = stream_text_file(path, encoding=encoding).num_examples
        return "text", None, total, _text_records(_text_lines(path, encoding))
    if extension == ".csv":
        text_column = text_kw["text_column"] or "text"
        label_column = text_kw["label_column"]
        try:
            label_names, rows = _csv_texts(path, encoding, text_column, label_column)
        except UnicodeDecodeError as e:
            raise ValueError(
                f"{path!r} is not valid {encoding}: {e.reason}. Pass the "
                "file's encoding (`encoding=`, `--encoding`)."
            ) from None
        return "text", label_names, None, _text_records(rows)
    raise ValueError(
        "Argument `source` must be an image folder, a .txt or .csv file, or "
        f"a LabeledData. Received: source={path!r}"
    )


def write_shards(
    source,
    output_dir,
    shard_size=10_000,
    image_size=None,
    color_mode=None,
    skip_invalid=False,
    text_column=None,
    label_column=None,
    encoding="utf-8",
    image_format="auto",
    verbose=1,
):
    """Writes a folder, a text or CSV file, or in-memory data as TFRecord shards.

    Each example is a `tf.train.Example` with `image` (encoded PNG or
    JPEG bytes) or `text` (UTF-8 bytes), and `label` (int64) when the source
    has labels. Images are decoded once to validate them: corrupt files stop
    the conversion with their name, or are skipped and counted with
    `skip_invalid=True`; images of a folder must share a size (or give
    `image_size`) and a channel count (or give `color_mode`). The shards are
    written to a temporary folder renamed to `output_dir` at the end, with
    `index.json`: the count, class names, image shape and, per shard, its
    file name, count, byte size and SHA-256.

    Args:
        source: an image folder (one subfolder per class, or flat for
            unlabelled images), a `.txt` file (one document per line), a
            `.csv` file, or a `LabeledData`.
        output_dir: the folder to create (must not exist).
        shard_size: examples per shard.
        image_size: optional `(height, width)` to resize images to.
        color_mode: `None` (keep the files' channels; they must agree),
            `"grayscale"` or `"rgb"`.
        skip_invalid: skip undecodable images instead of stopping.
        text_column, label_column: CSV columns (default `text`; no labels).
        image_format: how images are stored: `"raw"` (the `uint8` pixels:
            no decoding when read, the cheapest input for small images),
            `"encoded"` (the file's own PNG or JPEG bytes when it needs no
            resizing, otherwise PNG), or `"auto"` (default): raw for images
            of at most `RAW_MAX_VALUES` values (28x28x1, 32x32x3, 64x64x1),
            encoded otherwise.
        encoding: encoding of a text or CSV file.
        verbose: show a progress bar.

    Returns:
        The index as a dict.

    Example:

    >>> import os, tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> data = keras_ssl.datasets.from_arrays(
    ...     np.zeros((5, 8, 8), "uint8"), np.array([0, 1, 0, 1, 0]))
    >>> index = keras_ssl.datasets.write_shards(
    ...     data, os.path.join(tmp.name, "shards"), shard_size=2, verbose=0)
    >>> index["count"], len(index["shards"]), index["image_shape"]
    (5, 3, [8, 8, 1])
    """
    output_dir = os.fspath(output_dir)
    check_positive_int("shard_size", shard_size)
    image_size = check_image_size(image_size)
    check_choice("color_mode", color_mode, (None, *_CHANNELS))
    check_choice("image_format", image_format, ("auto", "raw", "encoded"))
    check_bool("skip_invalid", skip_invalid)
    if os.path.exists(output_dir):
        raise FileExistsError(
            f"Argument `output_dir` must not exist (shards are never written "
            f"over). Received: output_dir={output_dir!r}, which exists."
        )
    text_kw = {
        "text_column": text_column,
        "label_column": label_column,
        "encoding": encoding,
    }
    progress = _Progress(verbose)
    modality, label_names, progress.total, records = _source_records(
        source, image_size, color_mode, skip_invalid, text_kw, progress, image_format
    )
    parent = os.path.dirname(os.path.abspath(output_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = temporary_path(output_dir)
    os.makedirs(tmp)
    try:
        index = _write_all(tmp, records, modality, label_names, shard_size, progress)
        progress.finish()
        os.rename(tmp, output_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if index["skipped"]:
        logger.warning(
            "Skipped %d undecodable image file(s) of %s.", index["skipped"], source
        )
    return index


def _write_all(folder, records, modality, label_names, shard_size, progress):
    writer = _ShardWriter(folder, shard_size)
    key = "image" if modality == "image" else "text"
    shape = None
    labelled = label_names is not None
    formats = set()
    try:
        for payload, label, example_shape, payload_format in records:
            if modality == "image":
                formats.add(payload_format)
                if shape is None:
                    shape = example_shape
                    check_min_side(shape, "the source")
                elif example_shape != shape:
                    _mismatch(shape, example_shape, writer)
            writer.write(_example(key, payload, label if labelled else None))
            progress.step()
    finally:
        writer.close()
    count = sum(s["count"] for s in writer.shards)
    _check_not_empty(count, "the source (every image was skipped)")
    index = {
        "format": FORMAT,
        "version": VERSION,
        "modality": modality,
        "count": count,
        "label_names": label_names,
        "image_shape": None if shape is None else list(shape),
        "image_format": (formats.pop() if len(formats) == 1 else "mixed")
        if formats
        else None,
        "skipped": progress.skipped,
        "shards": writer.shards,
    }
    with open(os.path.join(folder, INDEX_NAME), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=1)
    return index


def _image_format(payload):
    """`"png"`, `"jpeg"` or `"other"`, from an encoded image's first bytes."""
    if payload[:4] == b"\x89PNG":
        return "png"
    if payload[:3] == b"\xff\xd8\xff":
        return "jpeg"
    return "other"


def _decoder(index, shape, resized):
    """The image decoder of `stream_shards`: PNG- or JPEG-only shards at
    their stored size skip the format and size tests of `decode_image`."""
    fmt = index.get("image_format")
    if fmt == "raw":
        stored = tuple(index["image_shape"])

        def from_raw(c):
            image = tf.reshape(tf.io.decode_raw(c, tf.uint8), stored)
            if resized:
                image = tf.image.resize(image, shape[:2], antialias=True)
                image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
            return image

        return from_raw
    if not resized and fmt == "png":
        return lambda c: tf.ensure_shape(tf.io.decode_png(c, channels=shape[2]), shape)
    if not resized and fmt == "jpeg":
        return lambda c: tf.ensure_shape(
            tf.io.decode_jpeg(c, channels=shape[2], dct_method="INTEGER_FAST"), shape
        )
    return lambda c: decode_image(c, shape[2], shape[:2])


def _mismatch(shape, other, writer):
    what = "channel counts" if shape[:2] == other[:2] else "sizes"
    fix = (
        "`color_mode` (`--color-mode`)"
        if what == "channel counts"
        else ("`image_size` (`--image-size`)")
    )
    raise ValueError(
        f"Images have mixed {what}. Received: an image of shape {other} "
        f"(example {sum(s['count'] for s in writer.shards) + 1}) after images "
        f"of shape {shape}. Expected one; pass {fix} to convert them."
    )


def read_index(path):
    """The shard index of a shard folder (or of its `index.json`), checked."""
    path = os.fspath(path)
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    index_path = os.path.join(folder, INDEX_NAME)
    if not os.path.isfile(index_path):
        raise FileNotFoundError(
            f"No shard index in {folder!r}. Expected {INDEX_NAME} written by "
            "`keras-ssl convert` (`keras_ssl.datasets.write_shards`)."
        )
    try:
        with open(index_path, encoding="utf-8") as f:
            index = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(
            f"The shard index {index_path!r} is not valid JSON: {e}."
        ) from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise ValueError(
            f"{index_path!r} is not a keras_ssl shard index. Expected "
            f"format={FORMAT!r}."
        )
    if index.get("version") != VERSION:
        raise ValueError(
            f"Unsupported shard index version. Received: {index.get('version')!r} "
            f"in {index_path!r}. Expected {VERSION}."
        )
    missing = [key for key in _INDEX_KEYS if key not in index]
    shards = index.get("shards")
    if not missing and (not isinstance(shards, list) or not shards):
        missing = ["shards (a non-empty list)"]
    for shard in shards if not missing else []:
        if not isinstance(shard, dict):
            missing = ["shards (a list of dicts)"]
            break
        missing += [f"shards[].{key}" for key in _SHARD_KEYS if key not in shard]
    if missing:
        raise ValueError(
            f"The shard index {index_path!r} is incomplete. Received: no "
            f"{', '.join(sorted(set(missing)))}. Expected the index written by "
            "`write_shards` (`keras-ssl convert`)."
        )
    for shard in index["shards"]:
        name = shard.get("file")
        if (
            not isinstance(name, str)
            or os.path.basename(name) != name
            or name
            in (
                ".",
                "..",
            )
        ):
            raise ValueError(
                f"The shard index {index_path!r} names a file outside its "
                f"folder. Received: file={name!r}. Expected a file name."
            )
    return folder, index


def _check_files(folder, index, verify):
    missing = [
        s["file"]
        for s in index["shards"]
        if not os.path.isfile(os.path.join(folder, s["file"]))
    ]
    if missing:
        listed = {s["file"] for s in index["shards"]}
        present = sorted(
            n for n in os.listdir(folder) if n.endswith(".tfrecord") and n not in listed
        )
        hint = ""
        if present:
            hint = f" Unlisted shard files present (renamed?): {present}."
        raise FileNotFoundError(
            f"{len(missing)} shard(s) listed in {folder}/{INDEX_NAME} are "
            f"missing, e.g. {missing[0]!r}.{hint} Expected every listed shard."
        )
    for shard in index["shards"]:
        path = os.path.join(folder, shard["file"])
        size = os.path.getsize(path)
        if size != shard["bytes"]:
            raise ValueError(
                f"The shard {path!r} has {size} bytes. Expected {shard['bytes']} "
                "(from the index): it was truncated or replaced."
            )
        if verify and sha256_of(path) != shard["sha256"]:
            raise ValueError(
                f"Checksum mismatch for the shard {path!r}: its SHA-256 differs "
                "from the index. The file is damaged or was replaced; "
                "convert the source again."
            )


def stream_shards(path, verify=True, skip_invalid=False, image_size=None):
    """Streams TFRecord shards written by `write_shards` / `keras-ssl convert`.

    Before anything trains, the index is read, every shard is checked to
    exist with the size the index gives and (with `verify=True`) the
    SHA-256 the index records, and the first record's features are checked
    against the index. Shards are read by a parallel interleave; images are
    decoded and resized in the pipeline.

    Args:
        path: the shard folder (or its `index.json`).
        verify: check every shard's SHA-256 (reads each shard once).
        skip_invalid: skip (and count) records that do not parse instead of
            stopping with the shard and record index.
        image_size: optional `(height, width)` to resize images to.

    Returns:
        A `StreamedData`.
    """
    check_bool("verify", verify)
    check_bool("skip_invalid", skip_invalid)
    image_size = check_image_size(image_size)
    folder, index = read_index(path)
    _check_files(folder, index, verify)
    files = [os.path.join(folder, s["file"]) for s in index["shards"]]
    modality = index["modality"]
    labelled = index["label_names"] is not None
    key = "image" if modality == "image" else "text"
    features = {key: tf.io.FixedLenFeature([], tf.string)}
    if labelled:
        features["label"] = tf.io.FixedLenFeature([], tf.int64)
    shape = None
    if modality == "image":
        shape = tuple(index["image_shape"])
        if image_size is not None:
            shape = (*image_size, shape[2])
        check_min_side(shape, f"the shards in {folder!r}")
    _check_first_record(files[0], features)
    raw_pixels = False
    if modality == "image":
        decode = _decoder(index, shape, resized=image_size is not None)
        raw_pixels = index.get("image_format") == "raw" and image_size is None

    def parse(record):
        example = tf.io.parse_single_example(record, features)
        x = example[key]
        if modality == "image":
            x = decode(x)
        return (x, example["label"]) if labelled else x

    def parse_batch(records):
        example = tf.io.parse_example(records, features)
        x = example[key]
        if modality == "image" and raw_pixels:  # one vectorized op
            x = tf.reshape(tf.io.decode_raw(x, tf.uint8), (-1, *shape))
        elif modality == "image":
            x = tf.map_fn(
                decode,
                x,
                fn_output_signature=tf.TensorSpec(shape, tf.uint8),
            )
        return (x, example["label"]) if labelled else x

    def locate(error):
        return _locate(files, parse)

    data = StreamedData(
        items=files,
        read=tf.data.TFRecordDataset,
        parse=parse,
        modality=modality,
        num_examples=index["count"],
        label_names=index["label_names"],
        image_shape=shape,
        name=os.path.basename(os.path.normpath(folder)),
        labelled=labelled,
        skip_invalid=skip_invalid,
        locate=locate,
        parse_batch=parse_batch,
    )
    if skip_invalid:
        counts = [s["count"] for s in index["shards"]]
        data.read = _reading_past_damage(files, counts, data)
    return data


def _reading_past_damage(files, counts, data):
    """The shard reader of `skip_invalid=True`: after a damaged record (a
    checksum of the TFRecord framing fails) TensorFlow drops the rest of
    its shard, so those records are counted as skipped, from the shard's
    count in the index."""
    with tf.init_scope():
        expected = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(files), tf.constant(counts, tf.int64)
            ),
            default_value=0,
        )

    def read(file_name):
        records = tf.data.TFRecordDataset(file_name).ignore_errors()
        end = tf.data.Dataset.from_tensors((tf.constant(""), True))
        records = records.map(lambda r: (r, False)).concatenate(end)

        def count_lost(i, record_and_end):
            record, last = record_and_end
            lost = tf.where(last, expected.lookup(file_name) - i, 0)
            with tf.control_dependencies([data.count_skipped(lost)]):
                return tf.identity(record), tf.identity(last)

        records = records.enumerate().map(count_lost)
        return records.filter(lambda r, last: tf.logical_not(last)).map(
            lambda r, last: r
        )

    return read


def _check_first_record(file_name, features):
    try:
        first = next(iter(tf.data.TFRecordDataset(file_name).take(1)), None)
    except tf.errors.DataLossError as e:
        raise ValueError(
            f"The shard {file_name!r} is damaged at its first record: "
            f"{_op_error_reason(e)}."
        ) from None
    if first is None:
        return
    try:
        example = tf.train.Example.FromString(first.numpy())
    except Exception:  # noqa: BLE001 (protobuf's DecodeError)
        raise ValueError(
            f"The records of {file_name!r} are not tf.train.Example protos. "
            "Expected shards written by `write_shards` (`keras-ssl convert`)."
        ) from None
    found = sorted(example.features.feature)
    expected = sorted(features)
    if not set(expected) <= set(found):
        raise ValueError(
            f"The records of {file_name!r} have the wrong features. Received: "
            f"{found}. Expected: {expected} (as the index describes)."
        )


def _locate(files, parse):
    """`"record N of the shard F"` for the first record that fails."""
    for file_name in files:
        position = 0
        try:
            for record in tf.data.TFRecordDataset(file_name):
                parse(record)
                position += 1
        except (tf.errors.InvalidArgumentError, tf.errors.DataLossError):
            return f"record {position} of the shard {file_name!r}"
    return None
