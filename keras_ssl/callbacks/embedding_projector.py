"""Embeddings of a held-out sample for TensorBoard's Embedding Projector."""

import math
import os

import keras
import numpy as np
import tensorflow as tf
from tensorboard.plugins import projector

from keras_ssl.callbacks import _monitoring as m

#: The Projector's limit on a sprite's width and height, in pixels.
MAX_SPRITE_SIZE = 8192
METADATA_FILE = "metadata.tsv"
SPRITE_FILE = "sprite.png"
CHECKPOINT_NAME = "embeddings"


def _tsv_cell(value, limit=200):
    text = " ".join(str(value).split())
    return text[:limit] or " "


class EmbeddingProjector(keras.callbacks.Callback):
    """Writes embeddings of a sample so TensorBoard's Projector shows them.

    `model.predict(x)` (the encoder's representation) of a held-out sample
    is saved as a 2-D variable `epoch_<n>` (`n` counted from 1, as Keras
    prints epochs) in a TensorFlow checkpoint in `log_dir`, next to

    - `projector_config.pbtxt`: one embedding per saved epoch, each with
      the metadata file and, for images, the sprite;
    - `metadata.tsv`: one row per example, after a header row: `index`,
      `label` (the class name from `label_names`, or the class id) when
      `labels` are given, and `text` (the first 200 characters) for texts.
      With neither labels nor texts it holds the index column only,
      without a header (the Projector's format for one column);
    - `sprite.png` for images: the sample tiled row by row, each image at
      its own size, so the Projector draws each point as its image;
    - an event file with a short text summary, which makes `log_dir` a
      TensorBoard run (the Projector only looks in runs).

    `tensorboard --logdir <parent of log_dir>` then lists the embeddings in
    the Projector tab (PCA, t-SNE, UMAP; colour by label). The embeddings
    are written at the end of training and, with `every`, also every
    `every` epochs; all the saved epochs stay in the checkpoint, so the
    Projector's tensor menu compares them.

    Args:
        x: the sample: images `(n, height, width, channels)` (uint8 or float
            in `[0, 1]`), raw strings (text models; tokenized with the
            model's preprocessor) or token ids.
        labels: `None` or 1-D int class ids, one per example.
        log_dir: folder to write to (its own TensorBoard run, e.g.
            `logs/projector`).
        label_names: optional class names, `label_names[i]` naming class `i`.
        every: `None` (end of training only) or write every `every` epochs
            too.
        batch_size: batch size of the forward pass.

    Example:

    >>> model.fit(images, epochs=3, callbacks=[EmbeddingProjector(  # doctest: +SKIP
    ...     x_test[:1000], y_test[:1000], "logs/projector",
    ...     label_names=data.label_names)])
    """

    def __init__(
        self, x, labels, log_dir, label_names=None, every=None, batch_size=256
    ):
        super().__init__()
        self.x = m.check_inputs(x, "x")
        self.labels = (
            None if labels is None else m.label_array(labels, len(self.x), "labels")
        )
        if label_names is not None:
            if isinstance(label_names, str) or not all(
                isinstance(n, str) for n in label_names
            ):
                raise ValueError(
                    "Argument `label_names` must be None or a list of strings. "
                    f"Received: label_names={label_names!r}"
                )
            label_names = list(label_names)
            if self.labels is None:
                raise ValueError(
                    "Argument `label_names` needs `labels`. Received: labels=None"
                )
            if self.labels.min() < 0 or self.labels.max() >= len(label_names):
                raise ValueError(
                    "Argument `labels` must index `label_names`: ids in [0, "
                    f"{len(label_names)}). Received: labels in "
                    f"[{self.labels.min()}, {self.labels.max()}]"
                )
        self.label_names = label_names
        self.log_dir = m.check_log_dir(log_dir)
        self.every = m.check_every(every, allow_none=True)
        self.batch_size = m.check_positive_int("batch_size", batch_size)
        self.is_images = self.x.ndim == 4
        if self.is_images:
            n, height, width = self.x.shape[:3]
            columns = math.ceil(math.sqrt(n))
            rows = math.ceil(n / columns)
            if max(columns * width, rows * height) > MAX_SPRITE_SIZE:
                raise ValueError(
                    f"Argument `x` makes a sprite larger than {MAX_SPRITE_SIZE} "
                    "pixels, the Projector's limit. Pass fewer or smaller "
                    f"images. Received: {n} images of {height}x{width}"
                )
        #: The variable names written so far (`epoch_<n>`), in order.
        self.tensor_names = []
        self._checkpoint = tf.train.Checkpoint()
        self._manager = None
        self._inputs = None
        self._last_epoch = None
        self._written_epoch = None
        self._writer = None

    def set_model(self, model):
        if self.is_images:
            m.check_image_model_inputs(model, self.x, "x", "EmbeddingProjector")
        super().set_model(model)
        self._inputs = None

    def on_train_begin(self, logs=None):
        self._last_epoch = self._written_epoch = None
        if self._inputs is None:
            self._inputs = m.model_inputs(self.model, self.x, "x")

    def on_epoch_end(self, epoch, logs=None):
        self._last_epoch = epoch
        if self.every is not None and (epoch + 1) % self.every == 0:
            self.write(epoch)

    def on_train_end(self, logs=None):
        if self._last_epoch is not None and self._written_epoch != self._last_epoch:
            self.write(self._last_epoch)
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def write(self, epoch):
        """Embeds the sample now and saves it as `epoch_<epoch + 1>`."""
        if self._inputs is None:
            self._inputs = m.model_inputs(self.model, self.x, "x")
        embeddings = m.embed_with_model(self.model, self._inputs, self.batch_size)
        name = f"epoch_{epoch + 1}"
        os.makedirs(self.log_dir, exist_ok=True)
        variable = getattr(self._checkpoint, name, None)
        if variable is not None and tuple(variable.shape) == embeddings.shape:
            variable.assign(embeddings)
        else:
            with tf.device("/cpu:0"):
                variable = tf.Variable(embeddings, trainable=False, name=name)
            setattr(self._checkpoint, name, variable)
        if name not in self.tensor_names:
            self.tensor_names.append(name)
        if self._manager is None:
            self._manager = tf.train.CheckpointManager(
                self._checkpoint,
                self.log_dir,
                max_to_keep=1,
                checkpoint_name=CHECKPOINT_NAME,
            )
            self._write_metadata()
        self._manager.save()
        self._write_config()
        self._write_event(epoch, embeddings.shape)
        self._written_epoch = epoch

    def _write_metadata(self):
        columns = [("index", [str(i) for i in range(len(self.x))])]
        if self.labels is not None:
            names = self.label_names
            columns.append(
                ("label", [names[y] if names else str(y) for y in self.labels])
            )
        if self.x.dtype == object:
            columns.append(("text", list(self.x)))
        lines = []
        if len(columns) > 1:
            lines.append("\t".join(name for name, _ in columns))
        for i in range(len(self.x)):
            lines.append("\t".join(_tsv_cell(values[i]) for _, values in columns))
        with open(
            os.path.join(self.log_dir, METADATA_FILE), "w", encoding="utf-8"
        ) as f:
            f.write("\n".join(lines) + "\n")
        if self.is_images:
            tf.io.write_file(
                os.path.join(self.log_dir, SPRITE_FILE),
                tf.io.encode_png(self.sprite()),
            )

    def sprite(self):
        """The sample tiled row by row, uint8 `(rows * h, columns * w, c)`."""
        images = self.x
        if images.dtype != np.uint8:
            images = np.round(m.as_unit_float(images) * 255).astype("uint8")
        n, height, width, channels = images.shape
        columns = math.ceil(math.sqrt(n))
        rows = math.ceil(n / columns)
        sprite = np.zeros((rows * height, columns * width, channels), "uint8")
        for i, image in enumerate(images):
            top, left = (i // columns) * height, (i % columns) * width
            sprite[top : top + height, left : left + width] = image
        return sprite

    def _write_config(self):
        config = projector.ProjectorConfig()
        for name in self.tensor_names:
            embedding = config.embeddings.add()
            embedding.tensor_name = f"{name}/.ATTRIBUTES/VARIABLE_VALUE"
            embedding.metadata_path = METADATA_FILE
            if self.is_images:
                embedding.sprite.image_path = SPRITE_FILE
                height, width = self.x.shape[1:3]
                embedding.sprite.single_image_dim.extend([width, height])
        projector.visualize_embeddings(self.log_dir, config)

    def _write_event(self, epoch, shape):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default():
            tf.summary.text(
                "embedding_projector",
                f"Embeddings of {shape[0]} held-out examples ({shape[1]} "
                f"dimensions) after epoch {epoch + 1}: see the Projector tab "
                f"(tensors {', '.join(self.tensor_names)}).",
                step=epoch,
            )
        self._writer.flush()
