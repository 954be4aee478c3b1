import dataclasses
import inspect
import weakref

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.checks import check_labels, check_same_length
from keras_ssl.datasets.labeled_data import LabeledData
from keras_ssl.datasets.streamed_data import StreamedData
from keras_ssl.datasets.streaming_sources import from_dataset


def embed(encoder, x, batch_size=256, verbose=0, preprocess=None):
    """Embeds `x` with a frozen encoder, one vector per example.

    The encoder runs in inference mode (`training=False`), so dropout is off
    and batch normalization uses its moving statistics. For arrays, a
    `keras.Model` is run with `predict`; any other callable is called batch
    by batch.

    `x` may also be a stream: a `keras_ssl.datasets.StreamedData` or a
    batched `tf.data.Dataset` of `x` or `(x, y)`. The encoder then runs
    batch by batch as the batches are read, and only the embeddings are
    kept: the inputs are never held in memory together (see
    `embed_labelled` to keep the labels too).

    Args:
        encoder: a `keras.Model` or callable mapping a batch of inputs to a
            2-D tensor `(batch, dim)`.
        x: NumPy array (or a dict / list of arrays for multi-input encoders)
            with the examples along the first axis; or a `StreamedData`; or
            a batched `tf.data.Dataset` of `x` or `(x, y)`.
        batch_size: int, number of examples per forward pass (a
            `tf.data.Dataset` keeps its own batches).
        verbose: int, progress-bar verbosity.
        preprocess: streams only: a function of a batch of inputs returning
            the encoder's inputs, run in the `tf.data` pipeline (e.g. a
            text model's `TextPreprocessor`). Default: the images of a
            `StreamedData` (`uint8`) are scaled to `[0, 1]`, as in
            pretraining; other inputs are passed unchanged.

    Returns:
        A float32 NumPy array of shape `(num_examples, dim)`.

    Example:

    >>> encoder = keras.Sequential([keras.layers.Dense(8)])
    >>> embed(encoder, np.zeros((10, 4), "float32")).shape
    (10, 8)

    Reference:
        - [Chen et al., 2020](https://arxiv.org/abs/2002.05709), Section B.6
          (evaluation of frozen representations).
    """
    if is_stream(x):
        features, _ = _embed_stream(
            {"x": encoder}, x, batch_size, preprocess, verbose, labels=False
        )
        return features["x"]
    if preprocess is not None:
        raise ValueError(
            "Argument `preprocess` applies to streams (a StreamedData or a "
            "tf.data.Dataset). Received: preprocess with x of type "
            f"{type(x).__name__}; prepare the arrays before calling `embed`."
        )
    num_examples = len(keras.tree.flatten(x)[0])
    if num_examples == 0:
        raise ValueError(
            "Argument `x` must contain at least one example. "
            "Received: x with 0 examples."
        )
    if isinstance(encoder, keras.Model):
        _check_input(encoder, x)
        outputs = encoder.predict(x, batch_size=batch_size, verbose=verbose)
        _check_output(np.asarray(outputs), num_examples)
    else:
        kwargs = {"training": False} if _accepts_training(encoder) else {}
        outputs = []
        for start in range(0, num_examples, batch_size):
            batch = keras.tree.map_structure(
                lambda a, s=start: a[s : s + batch_size], x
            )
            output = np.asarray(keras.ops.convert_to_numpy(encoder(batch, **kwargs)))
            _check_output(output, len(keras.tree.flatten(batch)[0]))
            outputs.append(output)
        outputs = np.concatenate(outputs)
    return outputs.astype("float32", copy=False)


def embed_labelled(encoder, data, batch_size=256, verbose=0, preprocess=None):
    """Embeds a labelled stream with frozen encoders; keeps the labels.

    One pass over `data`: each batch is read (and decoded) once, run
    through every encoder (`training=False`), and dropped; only the
    embeddings and the labels stay in memory.

    Args:
        encoder: a `keras.Model` or callable mapping a batch of inputs to
            `(batch, dim)`, or a dict `{name: encoder}` to embed with
            several encoders in the same pass.
        data: a labelled `keras_ssl.datasets.StreamedData`, a batched
            `tf.data.Dataset` of `(x, y)`, or a labelled `LabeledData`.
        batch_size: examples per batch (a `tf.data.Dataset` keeps its own).
        verbose: int, progress-bar verbosity.
        preprocess: a function of a batch of inputs returning the encoder's
            inputs (see `embed`).

    Returns:
        A tuple `(features, labels)`: a float32 array `(num_examples, dim)`
        (a dict of them, by name, for a dict of encoders) and the int64
        labels `(num_examples,)`.

    Example:

    >>> data = keras_ssl.datasets.from_arrays(
    ...     np.zeros((6, 8, 8), "uint8"), np.array([0, 1, 0, 1, 0, 1]))
    >>> stream = tf.data.Dataset.from_tensor_slices((data.x, data.y)).batch(4)
    >>> encoder = keras.Sequential([keras.Input((8, 8, 1)),
    ...                             keras.layers.Flatten()])
    >>> features, labels = embed_labelled(encoder, stream)
    >>> features.shape, labels.tolist()
    ((6, 64), [0, 1, 0, 1, 0, 1])
    """
    several = isinstance(encoder, dict)
    encoders = encoder if several else {"x": encoder}
    if not is_stream(data):
        if getattr(data, "y", None) is None or not hasattr(data, "x"):
            raise ValueError(
                "Argument `data` must be labelled: a StreamedData, a "
                "tf.data.Dataset of (x, y) batches or a LabeledData with "
                f"labels. Received: data of type {type(data).__name__}"
                + (" without labels" if hasattr(data, "x") else "")
            )
        features = {
            name: embed(e, data.x, batch_size, verbose) for name, e in encoders.items()
        }
        labels = np.asarray(data.y, dtype="int64")
    else:
        features, labels = _embed_stream(
            encoders, data, batch_size, preprocess, verbose, labels=True
        )
    return (features if several else features["x"]), labels


def embed_pair(encoder, first, second, batch_size=256, preprocess=None):
    """Features and labels of two splits (`embed_examples` on each).

    Args:
        encoder: the frozen encoder.
        first, second: `(x, y, part)` of each split, `part` naming its
            arguments in errors (`"train"`: `x_train`, `y_train`).
        batch_size: examples per forward pass.
        preprocess: streams only (see `embed`).

    Returns:
        `((features_first, features_second), y_first, y_second)`.
    """
    (f_a, y_a), (f_b, y_b) = (
        embed_examples(
            encoder, x, y, (f"x_{part}", f"y_{part}"), batch_size, preprocess
        )
        for x, y, part in (first, second)
    )
    return (f_a, f_b), y_a, y_b


def embed_examples(encoder, x, y, names, batch_size=256, preprocess=None):
    """`(features, labels)` of one split given as arrays or as a stream.

    The protocols' shared input handling: arrays `x` with labels `y` are
    checked and embedded with `embed`; a stream `x` (a `StreamedData` or a
    `tf.data.Dataset` of `(x, y)` batches) carries its own labels, so `y`
    must be `None`, and is embedded batch by batch (`embed_labelled`).

    Args:
        encoder: the frozen encoder.
        x: arrays, or a labelled stream.
        y: 1-D integer labels of arrays; `None` for a stream.
        names: `(x name, y name)` for error messages.
        batch_size: examples per forward pass.
        preprocess: streams only (see `embed`).

    Returns:
        A tuple `(features, labels)`.
    """
    x_name, y_name = names
    if not is_stream(x):
        y = check_labels(y_name, y)
        check_same_length(x_name, x, y_name, y)
        return embed(encoder, x, batch_size=batch_size, preprocess=preprocess), y
    if y is not None:
        raise ValueError(
            f"The labels of a stream come with its examples. Received: "
            f"{x_name} of type {type(x).__name__} and {y_name}={_short(y)}. "
            f"Expected {y_name}=None."
        )
    return embed_labelled(encoder, x, batch_size, preprocess=preprocess)


def _short(value):
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def is_stream(data):
    """Whether `data` is streamed (a `StreamedData` or a `tf.data.Dataset`)."""
    return isinstance(data, StreamedData | tf.data.Dataset)


def scale_images(x):
    """A batch of `uint8` images as float32 in `[0, 1]` (other dtypes are
    cast only), the input of every keras_ssl image encoder."""
    if x.dtype == tf.uint8:
        return tf.cast(x, "float32") / 255.0
    return tf.cast(x, "float32")


def stream_batches(data, batch_size, preprocess=None, labels=True, **options):
    """The batches of a stream with `preprocess` applied to the inputs.

    Args:
        data: a `StreamedData` (batched here, in file order unless
            `options` say otherwise) or a batched `tf.data.Dataset`.
        batch_size: examples per batch (`StreamedData` only).
        preprocess: function of a batch of inputs; `None`: images of a
            `StreamedData` scaled to `[0, 1]`, anything else unchanged.
        labels: keep the labels (`(x, y)` batches).
        **options: passed to `StreamedData.batches` (`shuffle`, `seed`,
            `repeat`, `drop_remainder`).

    Returns:
        A `tf.data.Dataset` of `x` or `(x, y)` batches.
    """
    if isinstance(data, StreamedData):
        if preprocess is None and data.modality == "image":
            preprocess = scale_images
        ds = data.batches(batch_size, labels=labels and data.labelled, **options)
    elif isinstance(data, tf.data.Dataset):
        ds = data
        if not labels and isinstance(ds.element_spec, tuple):
            ds = ds.map(lambda x, *rest: x)
    else:
        raise ValueError(
            "Expected a StreamedData or a tf.data.Dataset. Received: data of "
            f"type {type(data).__name__}"
        )
    if preprocess is None:
        return ds
    if isinstance(ds.element_spec, tuple):
        ds = ds.map(
            lambda x, *rest: (preprocess(x), *rest),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    else:
        ds = ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def as_stream(data, name="dataset"):
    """`data` as a `StreamedData`: a `tf.data.Dataset` is wrapped with
    `keras_ssl.datasets.from_dataset` (single examples or batches of
    `x` or `(x, y)`); a `StreamedData` is returned as it is."""
    if isinstance(data, tf.data.Dataset):
        return from_dataset(data, name=name)
    if isinstance(data, StreamedData):
        return data
    raise ValueError(
        f"Argument `{name}` must be a StreamedData or a tf.data.Dataset. "
        f"Received: {name} of type {type(data).__name__}"
    )


def split_stream(data, test_fraction=0.2, seed=0):
    """Splits one stream into `(train, test)` streams, seeded.

    An image folder (its file names and labels are in memory) is split
    like `LabeledData.split`: stratified by class, exactly
    `round(test_fraction * n)` test examples. Other streams (TFRecord
    shards, text files, TFDS, `tf.data`) are split by a seeded hash of each
    record's position in its file (`tf.strings.to_hash_bucket_strong`):
    the records with the `round(test_fraction * n)` smallest hashes form
    the test part. The assignment does not depend on the order the files
    are read in, so the parts keep their own file shuffling; it is not
    stratified. Counting the parts reads the raw records once (nothing is
    decoded); records skipped later as invalid (`skip_invalid`) are
    counted.

    Args:
        data: a `StreamedData` or a `tf.data.Dataset` (of single examples
            or batches) with a known number of examples.
        test_fraction: fraction of the examples in the test part, in
            `(0, 1)`.
        seed: seed of the assignment (the same seed, the same parts).

    Returns:
        A tuple `(train, test)` of `StreamedData`.

    Example:

    >>> data = keras_ssl.datasets.from_dataset(
    ...     tf.data.Dataset.from_tensor_slices(np.zeros((10, 8, 8, 1), "uint8")))
    >>> train, test = split_stream(data, test_fraction=0.2, seed=0)
    >>> train.num_examples, test.num_examples
    (8, 2)
    """
    data = as_stream(data)
    if isinstance(test_fraction, bool) or not (
        isinstance(test_fraction, int | float) and 0 < test_fraction < 1
    ):
        raise ValueError(
            "`test_fraction` must be strictly between 0 and 1. "
            f"Received: test_fraction={test_fraction!r}."
        )
    n = _known_count(data, "split")
    if n < 2:
        raise ValueError(
            f"Cannot split {data.name!r}: it needs at least 2 examples. "
            f"Received: {n} example(s)."
        )
    n_test = min(max(round(n * test_fraction), 1), n - 1)
    if _in_memory_items(data):
        y = np.asarray(data.items[1]) if data.labelled else None
        index = LabeledData(np.arange(n), y)
        train, test = index.split(test_fraction, seed=seed, stratify=True)
        return _take_items(data, train.x, "train"), _take_items(data, test.x, "test")
    hashes = _record_hashes(data, "split", seed)
    limit = np.partition(hashes, n_test - 1)[n_test - 1]
    count = int(np.count_nonzero(hashes <= limit))
    test = _keep_records(data, "split", seed, lambda h: h <= limit, count, "test")
    train = _keep_records(
        data, "split", seed, lambda h: h > limit, len(hashes) - count, "train"
    )
    return train, test


def subset_stream(data, n, seed=0):
    """About `n` examples of a stream, seeded, as a stream.

    An image folder gives exactly the `n` examples `LabeledData.subset`
    would; other streams keep the records with the `n` smallest seeded
    hashes of their position (see `split_stream`; exactly `n` unless
    hashes tie). A stream of at most `n` examples is returned as it is.

    Args:
        data: a `StreamedData` or a `tf.data.Dataset` with a known number
            of examples.
        n: positive int, the number of examples.
        seed: seed of the choice.

    Returns:
        A `StreamedData`.
    """
    data = as_stream(data)
    total = _known_count(data, "subset")
    if n >= total:
        return data
    if _in_memory_items(data):
        index = LabeledData(np.arange(total)).subset(n, seed=seed)
        return _take_items(data, index.x, f"subset {n}")
    hashes = _record_hashes(data, "subset", seed)
    limit = np.partition(hashes, n - 1)[n - 1]
    count = int(np.count_nonzero(hashes <= limit))
    return _keep_records(
        data, "subset", seed, lambda h: h <= limit, count, f"subset {n}"
    )


def stream_labels(data, batch_size=1024):
    """The labels of a labelled stream, in file order (one pass; examples
    are parsed and dropped batch by batch)."""
    data = as_stream(data)
    _check_labelled(data)
    ys = [np.asarray(y) for _, y in data.batches(batch_size)]
    return np.concatenate(ys).astype("int64") if ys else np.zeros(0, "int64")


def _known_count(data, action):
    if data.num_examples is None:
        raise ValueError(
            f"Cannot {action} the stream {data.name!r}: its number of examples "
            "is unknown. Received: a stream without a count. Expected a "
            "(train, test) pair of streams, or a count (`from_dataset(..., "
            "num_examples=n)`)."
        )
    return data.num_examples


def _in_memory_items(data):
    """Whether the records are arrays in memory (an image folder's file
    names and labels)."""
    return data.read is None and isinstance(data.items, tuple)


def _take_items(data, index, suffix):
    items = tuple(np.asarray(a)[index] for a in data.items)
    return dataclasses.replace(
        data, items=items, num_examples=len(index), name=f"{data.name}[{suffix}]"
    )


_HASH_BUCKETS = 2**62


def _hash_fn(purpose, seed):
    """`(key, position) -> int64` hash of a record (`key`: its file's base
    name)."""

    def hash_record(key, position):
        text = tf.strings.join([purpose, ":", key, "#", tf.strings.as_string(position)])
        return tf.strings.to_hash_bucket_strong(
            text, _HASH_BUCKETS, key=[int(seed), 0x55D5]
        )

    return hash_record


def _file_key(file_name):
    return tf.strings.regex_replace(file_name, r"^.*[/\\]", "")


def _record_hashes(data, purpose, seed):
    """The hash of every raw record, in file order (records not parsed)."""
    hash_record = _hash_fn(purpose, seed)
    if data.read is not None:
        read = data.read
        files = tf.data.Dataset.from_tensor_slices(list(data.items))
        hashes = files.flat_map(
            lambda f: (
                read(f).enumerate().map(lambda i, record: hash_record(_file_key(f), i))
            )
        )
    else:
        hashes = data.items.enumerate().map(lambda i, record: hash_record("", i))
    try:
        batches = [b.numpy() for b in hashes.batch(65536)]
    except (tf.errors.InvalidArgumentError, tf.errors.DataLossError) as e:
        raise data.describe_error(e) from None
    return np.concatenate(batches) if batches else np.zeros(0, "int64")


def _keep_records(data, purpose, seed, keep, count, suffix):
    """A view of `data` keeping the records whose hash passes `keep`."""
    hash_record = _hash_fn(purpose, seed)
    name = f"{data.name}[{suffix}]"
    if data.read is not None:
        read = data.read

        def read_part(file_name):
            key = _file_key(file_name)
            records = read(file_name).enumerate()
            records = records.filter(lambda i, record: keep(hash_record(key, i)))
            return records.map(lambda i, record: record)

        return dataclasses.replace(
            data, read=read_part, items=list(data.items), num_examples=count, name=name
        )
    records = data.items.enumerate()
    records = records.filter(lambda i, record: keep(hash_record("", i)))
    records = records.map(lambda i, record: record)
    return dataclasses.replace(data, items=records, num_examples=count, name=name)


def _embed_stream(encoders, data, batch_size, preprocess, verbose, labels):
    """`({name: features}, labels or None)` of one pass over a stream."""
    if labels:
        _check_labelled(data)
    ds = stream_batches(data, batch_size, preprocess, labels)
    labelled = isinstance(ds.element_spec, tuple)
    for encoder in encoders.values():
        _check_stream_input(
            encoder, ds.element_spec[0] if labelled else ds.element_spec
        )
    forward = {name: _forward_fn(e) for name, e in encoders.items()}
    outputs = {name: [] for name in encoders}
    ys = []
    target = None
    if isinstance(data, StreamedData) and data.num_examples is not None:
        target = -(-data.num_examples // batch_size)
    progress = keras.utils.Progbar(target, verbose=verbose) if verbose else None
    try:
        for step, batch in enumerate(ds):
            x = batch[0] if labelled else batch
            count = len(keras.tree.flatten(x)[0])
            for name, fn in forward.items():
                output = np.asarray(keras.ops.convert_to_numpy(fn(x)))
                _check_output(output, count)
                outputs[name].append(output.astype("float32", copy=False))
            if labelled:
                ys.append(np.asarray(batch[1]).astype("int64").reshape(-1))
            if progress is not None:
                progress.update(step + 1)
    except (tf.errors.InvalidArgumentError, tf.errors.DataLossError) as e:
        if isinstance(data, StreamedData):
            raise data.describe_error(e) from None
        raise
    if not ys and not all(outputs.values()):
        raise ValueError(
            "Argument `x` must contain at least one example. "
            f"Received: an empty stream {_name(data)!r}."
        )
    features = {name: np.concatenate(parts) for name, parts in outputs.items()}
    return features, (np.concatenate(ys) if labels else None)


def _check_labelled(data):
    if isinstance(data, StreamedData):
        labelled = data.labelled
    else:
        spec = data.element_spec
        labelled = isinstance(spec, tuple) and len(spec) >= 2
    if not labelled:
        raise ValueError(
            "Evaluation needs labelled data. Received: the stream "
            f"{_name(data)!r} without labels. Expected a StreamedData with "
            "labels (a folder with one subfolder per class, shards written "
            "from labelled data, a CSV with a label column) or a "
            "tf.data.Dataset of (x, y)."
        )


def _name(data):
    return data.name if isinstance(data, StreamedData) else "tf.data.Dataset"


#: One compiled forward pass per encoder, kept while the encoder lives (a
#: new `tf.function` per call would trace again every time).
_FORWARD = weakref.WeakKeyDictionary()


def _forward_fn(encoder):
    """The encoder's inference forward pass on one batch (compiled for a
    `keras.Model`, as `predict` does)."""
    if isinstance(encoder, keras.Model):
        if encoder not in _FORWARD:
            ref = weakref.ref(encoder)  # the cache must not keep it alive
            _FORWARD[encoder] = tf.function(
                lambda x: ref()(x, training=False), reduce_retracing=True
            )
        return _FORWARD[encoder]
    kwargs = {"training": False} if _accepts_training(encoder) else {}
    return lambda x: encoder(x, **kwargs)


def _check_stream_input(encoder, spec):
    """Compares a stream's batch shape with a one-input model's input shape."""
    inputs = getattr(encoder, "inputs", None) or []
    if len(inputs) != 1 or not isinstance(spec, tf.TensorSpec):
        return
    expected = tuple(inputs[0].shape[1:])
    received = tuple(spec.shape[1:])
    if spec.shape.rank is None or (
        len(received) == len(expected)
        and all(e is None or r is None or e == r for e, r in zip(expected, received))
    ):
        return
    hint = _channels_hint(expected, received)
    if len(received) + 1 == len(expected):
        hint = " Batch the dataset first (e.g. `dataset.batch(256)`)."
    raise ValueError(
        "The stream's inputs must match the encoder's input shape. Received: "
        f"batches of shape {tuple(spec.shape)}. Expected: (batch, "
        f"{', '.join(str(d) for d in expected)}).{hint}"
    )


def _channels_hint(expected, received):
    if len(expected) == len(received) == 3 and expected[:2] == received[:2]:
        return (
            " The channels differ (greyscale has 1, RGB 3): load the images "
            "with the color mode the encoder was trained on."
        )
    return ""


def _check_input(encoder, x):
    """Compares an array's example shape with a one-input model's input shape."""
    inputs = getattr(encoder, "inputs", None) or []
    if len(inputs) != 1 or not hasattr(x, "shape"):
        return
    expected = tuple(inputs[0].shape[1:])
    received = tuple(x.shape[1:])
    if len(received) == len(expected) and all(
        e is None or e == r for e, r in zip(expected, received)
    ):
        return
    raise ValueError(
        "Argument `x` must match the encoder's input shape. Received: x with "
        f"shape {tuple(x.shape)}. Expected: (num_examples, "
        f"{', '.join(str(d) for d in expected)})." + _channels_hint(expected, received)
    )


def _check_output(outputs, num_examples):
    if outputs.ndim != 2 or outputs.shape[0] != num_examples:
        raise ValueError(
            "The encoder must return a vector per example. "
            f"Received: output shape={outputs.shape}. Expected: (batch, dim)."
        )


def _accepts_training(fn):
    if isinstance(fn, keras.Layer):
        return True
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.name == "training" or p.kind is inspect.Parameter.VAR_KEYWORD
        for p in parameters
    )
