"""Shared pieces of the TensorBoard monitoring callbacks (argument checks,
inputs, image grids, random-state handling and the summary-writer base)."""

import contextlib
import functools

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.checks import (
    check_images,
    check_labels,
    check_path,
    check_positive_int,
)
from keras_ssl.evaluation.embed import embed
from keras_ssl.models.text_inputs import TextSSLModel, is_string
from keras_ssl.tokenizers import check_texts

#: Mid-grey separating the cells of an image grid (and hiding MAE patches).
GRID_PAD_VALUE = 0.5


#: `check_log_dir(log_dir, allow_none=False)`: a non-empty path.
check_log_dir = functools.partial(check_path, "log_dir")
#: `check_every(every, allow_none=False)`: summaries every `every` epochs.
check_every = functools.partial(check_positive_int, "every")


def image_array(images, name="images"):
    """Returns `images` as a 4-D NumPy array (uint8, or float in [0, 1])."""
    array = None if isinstance(images, str) else np.asarray(images)
    check_images(name, array, channels=(1, 3, 4), non_empty=True)
    if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
        raise ValueError(
            f"Argument `{name}` must be uint8 in [0, 255] or float in [0, 1]. "
            f"Received: {name}.dtype={array.dtype}"
        )
    return array


def text_list(texts, name="texts"):
    """Returns `texts` as a Python list of `str` (non-empty)."""
    return [str(t) for t in check_texts(texts, name, empty="keep")]


def label_array(labels, num_examples, name="labels"):
    """Returns `labels` as a 1-D int64 array of `num_examples` class ids."""
    return check_labels(name, labels, num_examples).astype("int64")


def check_inputs(x, name):
    """Images (4-D array), texts (strings) or token ids (2-D int array)."""
    if isinstance(x, str):
        raise ValueError(
            f"Argument `{name}` must be a batch of examples, not one string. "
            f"Received: {name}={x[:40]!r}"
        )
    if isinstance(x, list | tuple) or is_string(x):
        return np.asarray(text_list(x, name), dtype=object)
    array = np.asarray(x)
    if array.ndim == 4:
        return image_array(array, name)
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
