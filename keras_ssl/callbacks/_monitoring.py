"""Shared pieces of the TensorBoard monitoring callbacks (argument checks,
inputs, image grids, random-state handling and the summary-writer base)."""

import contextlib
import numbers
import os

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.evaluation.embed import embed
from keras_ssl.models.text_inputs import TextSSLModel, is_string
from keras_ssl.tokenizers import check_texts as _check_texts

#: Mid-grey separating the cells of an image grid (and hiding MAE patches).
GRID_PAD_VALUE = 0.5


def is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_positive_int(name, value):
    if not is_int(value) or value < 1:
        raise ValueError(
            f"Argument `{name}` must be a positive int. Received: {name}={value!r}"
        )
    return int(value)


def check_every(every, allow_none=False):
    if allow_none and every is None:
        return None
    if not is_int(every) or every < 1:
        extra = " or None" if allow_none else ""
        raise ValueError(
            f"Argument `every` must be a positive int (write every `every` "
            f"epochs){extra}. Received: every={every!r}"
        )
    return int(every)


def check_log_dir(log_dir, allow_none=False):
    if allow_none and log_dir is None:
        return None
    if not isinstance(log_dir, str | os.PathLike) or not os.fspath(log_dir):
        extra = " or None" if allow_none else ""
        raise ValueError(
            f"Argument `log_dir` must be a non-empty path{extra}. "
            f"Received: log_dir={log_dir!r}"
        )
    return os.fspath(log_dir)


def check_seed(seed):
    if not is_int(seed) or seed < 0:
        raise ValueError(
            f"Argument `seed` must be an int >= 0. Received: seed={seed!r}"
        )
    return int(seed)


def check_images(images, name="images"):
    """Returns `images` as a 4-D NumPy array (uint8, or float in [0, 1])."""
    array = np.asarray(images) if not isinstance(images, str) else None
    if array is None or array.ndim != 4 or not len(array):
        shape = None if array is None else array.shape
        raise ValueError(
            f"Argument `{name}` must be a non-empty batch of images of shape "
            f"(n, height, width, channels). Received: {name} with shape={shape}"
        )
    if array.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"Argument `{name}` must have 1, 3 or 4 channels (last axis). "
            f"Received: {name}.shape={array.shape}"
        )
    if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
        raise ValueError(
            f"Argument `{name}` must be uint8 in [0, 255] or float in [0, 1]. "
            f"Received: {name}.dtype={array.dtype}"
        )
    return array


def check_texts(texts, name="texts"):
    """Returns `texts` as a Python list of `str` (non-empty)."""
    return [str(t) for t in _check_texts(texts, name, empty="keep")]


def check_labels(labels, num_examples, name="labels"):
    """Returns `labels` as a 1-D int64 array of `num_examples` class ids."""
    array = np.asarray(labels)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"Argument `{name}` must be a 1-D array of integer class ids. "
            f"Received: {name} with shape={array.shape} and dtype={array.dtype}"
        )
    if len(array) != num_examples:
        raise ValueError(
            f"Argument `{name}` must hold one label per example. Received: "
            f"{len(array)} labels for {num_examples} examples"
        )
    return array.astype("int64")


def check_inputs(x, name):
    """Images (4-D array), texts (strings) or token ids (2-D int array)."""
    if isinstance(x, str):
        raise ValueError(
            f"Argument `{name}` must be a batch of examples, not one string. "
            f"Received: {name}={x[:40]!r}"
        )
    if isinstance(x, list | tuple) or is_string(x):
        return np.asarray(check_texts(x, name), dtype=object)
    array = np.asarray(x)
    if array.ndim == 4:
        return check_images(array, name)
    if array.ndim == 2 and np.issubdtype(array.dtype, np.integer) and len(array):
        return array
    raise ValueError(
        f"Argument `{name}` must be images (n, height, width, channels), "
        "texts (a list or 1-D array of strings) or token ids (n, length). "
        f"Received: {name} with shape={array.shape} and dtype={array.dtype}"
    )


def check_image_model_inputs(model, images, name, owner):
    """Raises unless `images` fit the input of `model.encoder`."""
    shape = getattr(model.encoder, "input_shape", None)
    if not isinstance(shape, tuple) or len(shape) != 4:
        raise ValueError(
            f"{owner} needs an image model. Received: model "
            f"{type(model).__name__} with encoder input shape {shape}"
        )
    expected = tuple(shape[1:])
    if any(e is not None and e != a for e, a in zip(expected, images.shape[1:])):
        raise ValueError(
            f"Argument `{name}` must match the encoder's input "
            f"(n, {', '.join(map(str, expected))}). "
            f"Received: {name}.shape={images.shape}"
        )


def as_unit_float(images):
    """uint8 → float32 / 255; float → float32, clipped to [0, 1]."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype("float32") / 255.0
    return np.clip(images.astype("float32"), 0.0, 1.0)


def model_inputs(model, x, argument):
    """What `model.predict` takes for `x`: texts become the model's token ids.

    Tokenizing once, outside the model, keeps `predict` on int tensors (no
    string ops in a possibly XLA-compiled predict step).
    """
    if x.dtype == object:
        if not isinstance(model, TextSSLModel):
            raise ValueError(
                f"Argument `{argument}` holds texts, but the model "
                f"{type(model).__name__} is not a text model. Pass images."
            )
        ids = [
            keras.ops.convert_to_numpy(model.token_ids(list(x[i : i + 1024])))
            for i in range(0, len(x), 1024)
        ]
        return np.concatenate(ids).astype("int32")
    return x


def embed_with_model(model, inputs, batch_size):
    """`model.predict` (the encoder's representation), as float32 `(n, dim)`."""
    return embed(model, inputs, batch_size=batch_size)


def image_grid(rows):
    """One image from rows of images: `rows[r][i]` is cell `(r, i)`.

    Args:
        rows: list of `(n, height, width, channels)` float arrays in [0, 1],
            all of the same shape.

    Returns:
        `(1, H, W, channels)` float32, cells separated by 1-pixel grey lines.
    """
    rows = [np.clip(np.asarray(r, dtype="float32"), 0.0, 1.0) for r in rows]
    n, height, width, channels = rows[0].shape
    pad = 1
    grid = np.full(
        (
            len(rows) * (height + pad) - pad,
            n * (width + pad) - pad,
            channels,
        ),
        GRID_PAD_VALUE,
        dtype="float32",
    )
    for r, row in enumerate(rows):
        for i, image in enumerate(row):
            top, left = r * (height + pad), i * (width + pad)
            grid[top : top + height, left : left + width] = image
    return grid[None]


def _seed_states(layer):
    return [v for v in layer.variables if v.path.endswith("seed_generator_state")]


@contextlib.contextmanager
def fixed_random_state(layer, seed, stream=0):
    """Runs the block with `layer`'s random generators set from `seed`, then
    puts their training state back.

    Drawing views or masks for a summary then neither changes the training
    run's random sequence (a run with monitoring on trains exactly as one
    with it off) nor depends on it: the same `(seed, stream)` gives the same
    draws.
    """
    states = _seed_states(layer)
    saved = [keras.ops.convert_to_numpy(v) for v in states]
    try:
        for i, state in enumerate(states):
            value = np.array([seed + 7919 * i, stream * 100_003], dtype="int64")
            state.assign(value.astype(saved[i].dtype))
        yield
    finally:
        for state, value in zip(states, saved):
            state.assign(value)


def markdown_cell(text):
    """Escapes `text` for one cell of a markdown table."""
    text = " ".join(str(text).split())
    return text.replace("\\", "\\\\").replace("|", "\\|") or " "


def markdown_table(header, rows):
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


class EpochSummaryCallback(keras.callbacks.Callback):
    """Base of the callbacks writing a summary every `every` epochs.

    Subclasses implement `write_summaries(epoch)`, called inside the writer's
    default context; summaries use `step=epoch` (0-based), as Keras's
    `TensorBoard` callback does for its epoch scalars.
    """

    def __init__(self, log_dir, every=1):
        super().__init__()
        self.log_dir = check_log_dir(log_dir)
        self.every = check_every(every)
        self._writer = None

    @property
    def writer(self):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        return self._writer

    def due(self, epoch):
        return (epoch + 1) % self.every == 0

    def on_epoch_end(self, epoch, logs=None):
        if self.due(epoch):
            self.write(epoch)

    def write(self, epoch):
        """Writes this callback's summaries for `epoch` now."""
        with self.writer.as_default():
            self.write_summaries(epoch)
        self.writer.flush()

    def write_summaries(self, epoch):
        raise NotImplementedError

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
