"""Streaming loaders: image folders, text and CSV files, TFDS, `tf.data`.

Each returns a `StreamedData`: the examples are read, decoded and resized
(images) or transcoded (texts) inside a `tf.data` pipeline, so memory does
not grow with the dataset. TFRecord shards are in `tfrecord_shards`.
"""

import codecs
import csv
import logging
import os

import tensorflow as tf

from keras_ssl.checks import check_bool, check_choice, check_positive_int
from keras_ssl.datasets.streamed_data import StreamedData
from keras_ssl.datasets.user_data import (
    _CHANNELS,
    IMAGE_EXTENSIONS,
    _check_not_empty,
    _codec,
    _image_files,
    _label_sort_key,
    _op_error_reason,
)

logger = logging.getLogger("keras_ssl")

#: The smallest image side the image methods train on (random crops of a
#: few pixels and three stride-2 stages leave nothing to learn below it).
MIN_IMAGE_SIDE = 8


def decode_image(contents, channels, image_size):
    """Decodes one encoded image (PNG, JPEG, BMP, GIF: first frame) to
    `uint8` `(height, width, channels)`, resized (antialiased) to
    `image_size` unless it has that size already. JPEGs use the fast
    integer DCT."""
    image = decode_bytes(contents, channels)
    height, width = image_size
    same = tf.logical_and(tf.shape(image)[0] == height, tf.shape(image)[1] == width)

    def resize():
        resized = tf.image.resize(image, (height, width), antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)

    image = tf.cond(same, lambda: image, resize)
    return tf.ensure_shape(image, (height, width, channels))


def decode_bytes(contents, channels):
    """Decodes one encoded image to `uint8` `(height, width, channels)` at
    its own size (`channels=0`: the file's own). GIFs decode to RGB only,
    so their first frame is converted to `channels` here."""

    def gif():
        image = tf.io.decode_gif(contents)[0]
        return tf.image.rgb_to_grayscale(image) if channels == 1 else image

    def other():
        return tf.cond(
            tf.io.is_jpeg(contents),
            lambda: tf.io.decode_jpeg(
                contents, channels=channels, dct_method="INTEGER_FAST"
            ),
            lambda: tf.io.decode_image(
                contents, channels=channels, expand_animations=False
            ),
        )

    is_gif = tf.strings.substr(contents, 0, 3) == b"GIF"
    return tf.cond(is_gif, gif, other)


def check_image_size(image_size, argument="image_size"):
    """`image_size` as a `(height, width)` tuple of ints ≥ `MIN_IMAGE_SIDE`."""
    if image_size is None:
        return None
    if not isinstance(image_size, tuple | list) or len(image_size) != 2:
        raise ValueError(
            f"Argument `{argument}` must be None or (height, width). "
            f"Received: {argument}={image_size!r}"
        )
    for side in image_size:
        check_positive_int(argument, side)
    return tuple(int(s) for s in image_size)


def check_min_side(shape, source, argument="image_size"):
    """Raises a `ValueError` when an image side is below `MIN_IMAGE_SIDE`."""
    if min(shape[:2]) < MIN_IMAGE_SIDE:
        raise ValueError(
            f"Images of {source} are too small to learn from. Received: "
            f"images of {shape[0]}x{shape[1]} pixels. Expected at least "
            f"{MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}: pass "
            f"`{argument}=(height, width)` (`--image-size`) to upscale them."
        )


def stream_image_folder(
    path,
    image_size=None,
    color_mode="grayscale",
    labels="inferred",
    skip_invalid=False,
):
    """Streams the images of a folder, decoded and resized in the pipeline.

    Only the file names are listed up front; every image is read, decoded
    (PNG, JPEG with the fast integer DCT, BMP, GIF first frame) and resized
    inside `tf.data`, so folders of any size stream with flat memory.

    Args:
        path: the root folder. With `labels="inferred"`, one subfolder per
            class (sorted names); with `labels=None`, every image under
            `path`, unlabelled.
        image_size: `(height, width)` every image is resized to. `None`:
            the size of the first image (the others are resized to it).
        color_mode: `"grayscale"` or `"rgb"`.
        labels: `"inferred"` (subfolder names) or `None`.
        skip_invalid: skip (and count, `StreamedData.skipped`) files that
            do not decode, instead of stopping with the file's name.

    Returns:
        A `StreamedData` of `uint8` images `(height, width, channels)`, with
        `int64` labels when `labels="inferred"`.

    Example:

    >>> import os, tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> for label in ("cats", "dogs"):
    ...     os.makedirs(os.path.join(tmp.name, label))
    ...     png = tf.io.encode_png(np.zeros((12, 12, 3), "uint8"))
    ...     tf.io.write_file(os.path.join(tmp.name, label, "1.png"), png)
    >>> data = keras_ssl.datasets.stream_image_folder(tmp.name)
    >>> data.num_examples, data.image_shape, data.label_names
    (2, (12, 12, 1), ['cats', 'dogs'])
    """
    path = os.fspath(path)
    check_choice("color_mode", color_mode, tuple(_CHANNELS))
    check_choice("labels", labels, ("inferred", None))
    check_bool("skip_invalid", skip_invalid)
    image_size = check_image_size(image_size)
    if not os.path.isdir(path):
        raise ValueError(f"`path` must be an existing folder. Received: path={path!r}.")
    files, label_ids, class_names = _list_images(path, labels)
    _check_not_empty(
        len(files),
        f"image folder {path!r} (expected "
        + ("subfolders per class holding " if labels else "")
        + f"{', '.join(IMAGE_EXTENSIONS)} files)",
    )
    channels = _CHANNELS[color_mode]
    if image_size is None:
        image_size = _first_image_size(files, channels, skip_invalid)
    check_min_side(image_size, f"the folder {path!r}")

    def parse(file_name, label=None):
        image = decode_image(tf.io.read_file(file_name), channels, image_size)
        return (image, label) if labels else image

    def parse_batch(file_names, labels_=None):
        images = tf.map_fn(
            lambda f: decode_image(tf.io.read_file(f), channels, image_size),
            file_names,
            fn_output_signature=tf.TensorSpec((*image_size, channels), tf.uint8),
        )
        return (images, labels_) if labels else images

    def locate(error):
        for file_name in files:
            try:
                _decode_file(file_name, channels)
            except ValueError:
                return f"the file {file_name!r}"
        return None

    return StreamedData(
        items=(files, label_ids) if labels else (files,),
        parse=parse,
        modality="image",
        num_examples=len(files),
        label_names=class_names,
        image_shape=(*image_size, channels),
        name=os.path.basename(os.path.normpath(path)),
        labelled=bool(labels),
        skip_invalid=skip_invalid,
        locate=locate,
        parse_batch=parse_batch,
    )


def _list_images(path, labels):
    if labels is None:
        return list(_image_files(path)), None, None
    class_names = sorted(
        entry.name
        for entry in os.scandir(path)
        if entry.is_dir() and not entry.name.startswith(".")
    )
    files, label_ids = [], []
    for label, class_name in enumerate(class_names):
        for file_name in _image_files(os.path.join(path, class_name)):
            files.append(file_name)
            label_ids.append(label)
    return files, label_ids, class_names


def _first_image_size(files, channels, skip_invalid):
    for file_name in files:
        try:
            return tuple(_decode_file(file_name, channels).shape[:2])
        except ValueError:
            if not skip_invalid:
                raise
    raise ValueError(f"No image decodes among the {len(files)} files listed.")


def _decode_file(file_name, channels):
    """The image of a file, decoded as the pipeline does; a `ValueError`
    naming the file when it does not decode."""
    try:
        with open(file_name, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ValueError(
            f"Could not read image file {file_name!r}: {e.strerror}."
        ) from None
    try:
        return decode_bytes(data, channels)
    except tf.errors.OpError as e:
        raise ValueError(
            f"Could not decode image file {file_name!r} ({len(data)} bytes): "
            f"{_op_error_reason(e)}. Expected a complete PNG, JPEG, BMP or GIF "
            "file; remove the file, or pass `skip_invalid=True` to skip "
            "undecodable files."
        ) from None


#: Python codec names → the ICU names `tf.strings.unicode_transcode` reads.
_ICU_NAMES = {
    "utf-8": "UTF-8",
    "latin-1": "ISO-8859-1",
    "iso8859-1": "ISO-8859-1",
    "cp1252": "windows-1252",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16LE",
    "utf-16-be": "UTF-16BE",
    "ascii": "US-ASCII",
}


def _count_lines(path, encoding):
    """(non-empty lines, first undecodable line or None), reading in chunks."""
    count = 0
    decoder = codecs.getincrementaldecoder(encoding)()
    with open(path, "rb") as f:
        line_number = 0
        pending = ""
        while chunk := f.read(1 << 20):
            try:
                text = pending + decoder.decode(chunk)
            except UnicodeDecodeError:
                done = line_number + pending.count("\n")
                return count, done + 1
            lines = text.split("\n")
            pending = lines.pop()
            line_number += len(lines)
            count += sum(1 for line in lines if line.strip())
        if pending.strip():
            count += 1
    return count, None


def stream_text_file(path, encoding="utf-8"):
    """Streams the lines of a text file (one document per line).

    Lines are read by `tf.data.TextLineDataset`, transcoded to UTF-8 in the
    pipeline when `encoding` is another one, stripped, and empty lines are
    dropped. One pass over the file up front counts the documents and
    checks the encoding (memory stays flat). The texts equal those of
    `load_text_file`, except that `TextLineDataset` drops a carriage return
    inside a line (`write_shards` keeps it); UTF-16 and UTF-32 files are
    read whole.

    Args:
        path: the text file.
        encoding: its encoding (`"utf-8"`, `"latin-1"`, `"cp1252"`,
            `"utf-16"`, ...).

    Returns:
        An unlabelled `StreamedData` of `tf.string` texts.
    """
    path = _existing_file(path)
    codec = _codec(encoding)
    count, bad_line = _count_lines(path, codec)
    if bad_line is not None:
        raise ValueError(
            f"{path!r} is not valid {codec}: line {bad_line} has an invalid "
            f"byte. Received: encoding={encoding!r}. Pass the file's encoding "
            "(`encoding=`, `--encoding`, e.g. 'latin-1' or 'cp1252')."
        )
    _check_not_empty(count, f"text file {path!r}")
    transcode = _transcoder(codec)

    def clean(lines):
        # On a block of lines at once: string ops are vectorized, so this
        # costs a fraction of per-line `map`/`filter` calls.
        lines = _strip(transcode(lines))
        return tf.boolean_mask(lines, tf.strings.length(lines) > 0)

    def read(file_name):
        if codec.startswith(("utf-16", "utf-32")):
            # Line splitting is byte-based: read UTF-16/32 whole (one file).
            whole = transcode(tf.io.read_file(file_name))
            lines = tf.strings.split(whole, "\n")
            return tf.data.Dataset.from_tensor_slices(_strip(lines)).filter(
                lambda line: tf.strings.length(line) > 0
            )
        blocks = tf.data.TextLineDataset(file_name).batch(_LINE_BLOCK)
        return blocks.map(clean).unbatch()

    def parse(line):
        return line  # already transcoded and stripped by `read`

    return StreamedData(
        items=[path],
        read=read,
        parse=parse,
        parse_batch=parse,  # the same on a batch: nothing per line
        modality="text",
        num_examples=count,
        name=os.path.basename(path),
    )


#: Lines cleaned together by one vectorized call in `stream_text_file`.
_LINE_BLOCK = 512


def _transcoder(codec):
    if codec in ("utf-8", "utf-8-sig"):
        # Strip a byte-order mark, as `utf-8-sig` does.
        return lambda s: tf.strings.regex_replace(s, "^\ufeff", "")
    icu = _ICU_NAMES.get(codec, codec)
    try:  # ICU may not know a codec Python knows: say so now.
        tf.strings.unicode_transcode("", input_encoding=icu, output_encoding="UTF-8")
    except tf.errors.OpError:
        raise ValueError(
            f"The pipeline cannot transcode {codec!r}. Received: encoding="
            f"{codec!r}. Expected one of {sorted(_ICU_NAMES)}, or convert the "
            "file to shards (`write_shards(..., encoding=...)`)."
        ) from None
    return lambda s: tf.strings.unicode_transcode(
        s, input_encoding=icu, output_encoding="UTF-8", errors="replace"
    )


#: The characters Python's `str.strip()` removes, as an RE2 class
#: (`tf.strings.strip` removes ASCII whitespace only).
_SPACE = r"[\p{Z}\t-\r\x{1c}-\x{1f}\x{85}]"


def _strip(text):
    """`str.strip()` in the pipeline (Unicode whitespace too), so streamed
    texts equal those of the in-memory loaders."""
    return tf.strings.regex_replace(text, f"^{_SPACE}+|{_SPACE}+$", "")


def _not_blank(text):
    return tf.strings.length(_strip(text)) > 0


def _existing_file(path):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"File not found. Received: path={path!r}. Expected an existing file."
        )
    return path


class _RawLines:
    """The lines of a file, keeping those of the row being read."""

    def __init__(self, f):
        self.lines = iter(f)
        self.raw = []

    def __iter__(self):
        return self

    def __next__(self):
        line = next(self.lines)
        self.raw.append(line)
        return line


def _scan_csv(path, encoding, text_column, label_column, for_pipeline=False):
    """`(header, texts, sorted labels, has_blank_lines)` of a CSV file, read
    row by row. `for_pipeline`: also raise a `ValueError` for a row that
    `tf.data.experimental.CsvDataset` cannot read (a quote inside an unquoted
    field, text after a closing quote)."""
    codec = codecs.lookup(encoding).name
    # A byte-order mark is not part of the first column's name (`load_csv`).
    codec = "utf-8-sig" if codec == "utf-8" else codec
    with open(path, encoding=codec, newline="") as f:
        lines = _RawLines(f)
        rows = _csv_rows(csv.reader(lines, strict=for_pipeline), lines, path)
        header = next(rows, [])
        columns = (("text_column", text_column), ("label_column", label_column))
        for arg, column in columns:
            if column is not None and column not in header:
                raise ValueError(
                    f"Column not found in {path!r}. Received: {arg}={column!r}. "
                    f"Expected one of the columns present: {header}."
                )
        text_at = header.index(text_column)
        label_at = None if label_column is None else header.index(label_column)
        count, labels, blank = 0, set(), False
        for row_number, row in enumerate(rows, start=2):
            if not row:
                blank = True  # skipped, as `load_csv` does
                continue
            if len(row) != len(header):
                raise ValueError(
                    f"Row {row_number} of {path!r} has {len(row)} fields. "
                    f"Expected {len(header)}, as in the header {header}."
                )
            if for_pipeline and any('"' in field for field in row):
                _check_quotes(row, "".join(lines.raw), path, row_number)
            if not row[text_at].strip():
                continue
            count += 1
            if label_at is not None:
                label = row[label_at].strip()
                if not label:
                    raise ValueError(
                        f"Missing label in {path!r}, row {row_number} (column "
                        f"{label_column!r}). Received: an empty cell. Expected "
                        "a label in every row that has a text."
                    )
                labels.add(label)
    return header, count, sorted(labels, key=_label_sort_key(list(labels))), blank


def _csv_rows(reader, lines, path):
    """The rows of `reader`; a `ValueError` naming the row for bad CSV."""
    row_number = 0
    while True:
        lines.raw.clear()
        row_number += 1
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise ValueError(
                f"Row {row_number} of {path!r} is not valid CSV: {e}. Expected "
                'fields quoted as a whole ("a ""quoted"" field"); fix the row, '
                "or convert the file with `write_shards` (`keras-ssl convert`), "
                "or load it in memory (`stream=False`)."
            ) from None


def _check_quotes(row, raw, path, row_number):
    for field in row:
        if '"' in field and '"' + field.replace('"', '""') + '"' not in raw:
            raise ValueError(
                f"Row {row_number} of {path!r} has a quote inside an unquoted "
                f"field, which the streaming CSV reader cannot read. Received: "
                f"{field!r}. Expected fields with quotes quoted as a whole "
                '("a ""quoted"" field"); fix the row, or convert the file with '
                "`write_shards` (`keras-ssl convert`), or load it in memory "
                "(`stream=False`)."
            )


def stream_csv(path, text_column="text", label_column=None, encoding="utf-8"):
    """Streams texts (and labels) from a CSV file with a header row.

    One pass up front (in Python, row by row) counts the texts, collects
    the label values and checks every row; the pipeline then reads the file
    with `tf.data.experimental.CsvDataset` and maps labels to ids with a
    lookup table, in the same sorted order as `load_csv`. Quoted fields may
    hold commas, quotes (doubled) and newlines; blank lines and rows with an
    empty text are skipped. A field with a quote must be quoted as a whole
    (`CsvDataset` cannot read `ab"c`): such a row is a `ValueError` naming
    it (`write_shards` and `load_csv` read it).

    Args:
        path: the CSV file.
        text_column: the column of texts.
        label_column: optional column of labels.
        encoding: the file's encoding (the pipeline reads UTF-8 only;
            convert other encodings to shards with `write_shards`).

    Returns:
        A `StreamedData` of `tf.string` texts, with `int64` labels when
        `label_column` is given.
    """
    path = _existing_file(path)
    codec = _codec(encoding)
    try:
        header, count, label_names, blank = _scan_csv(
            path, codec, text_column, label_column, for_pipeline=True
        )
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{path!r} is not valid {codec}: {e.reason}. Received: encoding="
            f"{encoding!r}. Pass the file's encoding (`--encoding`)."
        ) from None
    if codec != "utf-8":
        raise ValueError(
            f"Streaming a CSV file reads UTF-8 only. Received: encoding="
            f"{encoding!r}. Convert it to shards (`keras-ssl convert "
            f"{path} DST --encoding {encoding}`) or load it in memory."
        )
    _check_not_empty(count, f"CSV file {path!r}")
    columns = [header.index(text_column)]
    if label_column is not None:
        columns.append(header.index(label_column))
    # `CsvDataset` reads its selected columns in file order.
    selected = sorted(set(columns))
    order = [selected.index(column) for column in columns]
    table = None
    if label_column is not None:
        with tf.init_scope():
            table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(label_names), tf.range(len(label_names), dtype=tf.int64)
                ),
                default_value=-1,
            )

    def read(file_name):
        rows = tf.data.experimental.CsvDataset(
            file_name,
            record_defaults=[""] * len(selected),  # empty cells allowed
            header=True,
            select_cols=selected,
        )
        if blank:
            # `CsvDataset` fails on a blank line and goes on with the next
            # row; every other row was checked by the scan above.
            rows = rows.ignore_errors()
        rows = rows.map(lambda *fields: tuple(fields[i] for i in order))
        return rows.filter(lambda text, *_: _not_blank(text))

    def parse(text, *label):
        text = _strip(text)
        if table is None:
            return text
        return text, table.lookup(_strip(label[0]))

    return StreamedData(
        items=[path],
        read=read,
        parse=parse,
        modality="text",
        num_examples=count,
        label_names=label_names if label_column else None,
        name=os.path.basename(path),
        labelled=label_column is not None,
    )


def stream_tfds(name, split="train", data_dir=None, image_size=None):
    """Streams a prepared TensorFlow Datasets dataset with `as_dataset`.

    The dataset must be prepared in the TFDS data folder (nothing is
    downloaded; prepare it with `tfds build NAME`, or
    `keras_ssl.datasets.load_tfds(..., download=True)`). Supervised
    `(image, label)` or `(text, label)` pairs are read; counts, class names
    and the image shape come from the dataset's info.

    Args:
        name: the TFDS name, e.g. `"mnist"` or `"mnist:3.0.1"`.
        split: the split, e.g. `"train"` or `"test[:10%]"`.
        data_dir: the TFDS data folder (default `~/tensorflow_datasets`).
        image_size: optional `(height, width)` to resize images to.

    Returns:
        A labelled `StreamedData`.
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise ImportError(
            f"Streaming the TFDS dataset {name!r} requires `tensorflow-datasets`, "
            "which is not installed. Install it with `pip install keras-ssl[tfds]`."
        ) from e
    image_size = check_image_size(image_size)
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as e:  # noqa: BLE001 (TFDS raises several types)
        raise ValueError(
            f"Unknown TFDS dataset. Received: name={name!r} ({e})."
        ) from None
    if not builder.is_prepared():
        raise FileNotFoundError(
            f"The TFDS dataset is not prepared locally. Received: name={name!r} "
            f"(data_dir={builder.data_dir!r}). Expected prepared data: nothing "
            f"is downloaded unless asked, so prepare it with `tfds build "
            f"{name.split(':')[0]}`, or load it with `download=True` "
            "(`--tfds-download`)."
        )
    info = builder.info
    keys = info.supervised_keys
    if not keys:
        raise ValueError(
            f"The TFDS dataset {name!r} has no supervised keys. Expected "
            "(input, label) pairs."
        )
    x_key, y_key = keys[:2]
    feature = info.features[x_key]
    label_names = getattr(info.features[y_key], "names", None)
    num = info.splits[split].num_examples
    records = builder.as_dataset(split=split, shuffle_files=False)
    modality = "text" if feature.dtype == tf.string else "image"
    shape = None
    if modality == "image":
        height, width, channels = feature.shape
        if image_size is None and (height is None or width is None):
            raise ValueError(
                f"The images of {name!r} differ in size. Received: "
                "image_size=None. Expected image_size=(height, width)."
            )
        image_size = image_size or (height, width)
        check_min_side(image_size, f"the TFDS dataset {name!r}")
        shape = (*image_size, channels)

    def parse(record):
        x = record[x_key]
        if modality == "image" and tuple(x.shape[:2]) != tuple(image_size):
            x = tf.image.resize(x, image_size, antialias=True)
            x = tf.cast(tf.clip_by_value(tf.round(x), 0, 255), tf.uint8)
        return x, tf.cast(record[y_key], tf.int64)

    return StreamedData(
        items=records,
        parse=parse,
        modality=modality,
        num_examples=num,
        label_names=label_names,
        image_shape=shape,
        name=f"tfds:{name}[{split}]",
        labelled=True,
    )


def from_dataset(dataset, label_names=None, name="dataset", num_examples=None):
    """Wraps a `tf.data.Dataset` of single examples for the workflows.

    Elements must be `x` or `(x, y)`: images as `uint8` (or integer)
    tensors `(height, width, channels)` or `(height, width)`, texts as
    scalar `tf.string`; labels as integer scalars. A batched dataset is
    unbatched (its batch dimension is recognised from the element spec:
    rank-4 images, rank-3 images whose last side is over 4 (greyscale
    `(batch, height, width)`), or rank-1 texts).

    Args:
        dataset: the `tf.data.Dataset`.
        label_names: optional class names.
        name: a name for logs.
        num_examples: the number of examples, when the dataset's cardinality
            does not say (`None`: `dataset.cardinality()` when finite).

    Returns:
        A `StreamedData`.
    """
    if not isinstance(dataset, tf.data.Dataset):
        raise ValueError(
            "Argument `dataset` must be a tf.data.Dataset. Received: "
            f"dataset of type {type(dataset).__name__}"
        )
    spec = dataset.element_spec
    labelled = isinstance(spec, tuple)
    if labelled and len(spec) != 2:
        raise ValueError(
            "Argument `dataset` must yield `x` or `(x, y)`. Received: elements "
            f"with {len(spec)} components: {spec}"
        )
    x_spec = spec[0] if labelled else spec
    if not isinstance(x_spec, tf.TensorSpec):
        raise ValueError(
            f"Argument `dataset` must yield tensors. Received: element spec {spec}"
        )
    rank = x_spec.shape.rank
    batched = (x_spec.dtype == tf.string and rank == 1) or (
        # (batch, height, width, channels), or (batch, height, width) when
        # the last side is no channel count (images have at most 4).
        x_spec.dtype != tf.string
        and (rank == 4 or (rank == 3 and (x_spec.shape[-1] or 0) > 4))
    )
    if batched:
        dataset = dataset.unbatch()
        spec = dataset.element_spec
        x_spec = spec[0] if labelled else spec
    if x_spec.dtype == tf.string:
        modality, shape = "text", None
        if x_spec.shape.rank != 0:
            raise ValueError(
                "Texts in `dataset` must be scalar strings. Received: element "
                f"spec {spec}"
            )
    elif x_spec.dtype.is_integer and x_spec.shape.rank in (2, 3):
        modality = "image"
        shape = tuple(x_spec.shape) if x_spec.shape.rank == 3 else (*x_spec.shape, 1)
        if None in shape:
            raise ValueError(
                "Images in `dataset` must have a static shape (resize them in "
                f"the pipeline). Received: element spec {spec}"
            )
        check_min_side(shape, "`dataset`")
    else:
        raise ValueError(
            "Argument `dataset` must yield integer images (height, width, "
            "channels) with values in [0, 255] or scalar strings. Received: "
            f"element spec {spec}"
        )
    if num_examples is None:
        cardinality = int(dataset.cardinality())
        num_examples = cardinality if cardinality >= 0 else None
    rank2 = modality == "image" and x_spec.shape.rank == 2

    def parse(*element):
        x = element[0]
        if modality == "image":
            x = tf.cast(x[..., tf.newaxis] if rank2 else x, tf.uint8)
        if labelled:
            return x, tf.cast(element[1], tf.int64)
        return x

    return StreamedData(
        items=dataset,
        parse=parse,
        modality=modality,
        num_examples=num_examples,
        label_names=label_names,
        image_shape=shape,
        name=name,
        labelled=labelled,
    )
