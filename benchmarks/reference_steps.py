"""Reference train steps written the straightforward plain-Keras way.

`benchmarks/throughput.py` times keras_ssl's steps against these, side by
side in one process, on the same encoder sizes, batch and data:

- `ReferenceSimCLR`: the structure of the keras.io SimCLR example
  ("Semi-supervised image classification using contrastive pretraining
  with SimCLR") on `reference_conv_encoder`, the architecture of
  keras_ssl's conv encoder in plain Keras layers. A `keras.Sequential`
  augmenter of Keras preprocessing layers (rescaling, horizontal flip,
  translation, zoom, and a per-image colour-affine layer) is called twice,
  each view is encoded and projected in its own call, and the loss comes
  from the cross-view similarity matrix. The example's simultaneous linear
  probe on labelled images is left out: it is monitoring, not the SSL step
  (keras_ssl monitors with a per-epoch kNN callback instead).
- `reference_masked_lm`: keras-hub's `BertMaskedLM` with its
  `BertMaskedLMPreprocessor`, trained by `fit` on raw strings, which maps the
  preprocessor (tokenization and masking) over the `tf.data` pipeline at
  every epoch, as the keras-hub guides do.
"""

import math

import keras
import keras_hub
import tensorflow as tf
from keras import layers, ops


class ColorAffine(layers.Layer):
    """Per-image random brightness scale plus a random channel-mixing matrix.

    The colour augmentation of the keras.io SimCLR example, for any number
    of channels (the example's 3x3 matrix is a 1x1 for greyscale).
    """

    def __init__(self, brightness=0.6, jitter=0.2, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.brightness = brightness
        self.jitter = jitter
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training:
            return images
        batch = ops.shape(images)[0]
        channels = images.shape[-1]
        scale = 1.0 + keras.random.uniform(
            (batch, 1, 1, 1),
            minval=-self.brightness,
            maxval=self.brightness,
            seed=self.seed_generator,
        )
        mixing = keras.random.uniform(
            (batch, 1, channels, channels),
            minval=-self.jitter,
            maxval=self.jitter,
            seed=self.seed_generator,
        )
        transforms = ops.eye(channels)[None, None] * scale + mixing
        return ops.clip(ops.matmul(images, transforms), 0.0, 1.0)


def reference_augmenter(image_shape, min_area=0.25, seed=None):
    """The example's contrastive augmenter: Keras preprocessing layers."""
    zoom = 1.0 - math.sqrt(min_area)
    return keras.Sequential(
        [
            keras.Input(shape=image_shape),
            layers.Rescaling(1 / 255),
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomTranslation(zoom / 2, zoom / 2, seed=seed),
            layers.RandomZoom((-zoom, 0.0), (-zoom, 0.0), seed=seed),
            ColorAffine(seed=seed),
        ],
        name="reference_augmenter",
    )


def reference_conv_encoder(input_shape, widths=(32, 64, 128)):
    """`keras_ssl.encoders.conv_encoder`'s architecture in plain Keras layers.

    Stride-2 3x3 convolutions, each followed by Keras's own
    `BatchNormalization` and ReLU, then global average pooling: the same
    layers, shapes and parameter count as `conv_encoder(input_shape, widths,
    blocks_per_stage=0)`.
    """
    inputs = keras.Input(shape=tuple(input_shape))
    x = inputs
    for width in widths:
        x = layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
    outputs = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, outputs, name="reference_encoder")


class ReferenceSimCLR(keras.Model):
    """SimCLR's step as the keras.io example writes it (see module doc)."""

    def __init__(self, encoder, projection_dim=64, hidden_dim=256, seed=None):
        super().__init__()
        self.encoder = encoder
        self.augmenter = reference_augmenter(encoder.input_shape[1:], seed=seed)
        self.projection_head = keras.Sequential(
            [
                keras.Input(shape=encoder.output_shape[1:]),
                layers.Dense(hidden_dim, activation="relu"),
                layers.Dense(projection_dim),
            ],
            name="projection_head",
        )
        self.temperature = 0.1
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy = keras.metrics.SparseCategoricalAccuracy(
            name="contrastive_accuracy"
        )

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy]

    def contrastive_loss(self, z_1, z_2):
        z_1 = ops.normalize(z_1, axis=1)
        z_2 = ops.normalize(z_2, axis=1)
        similarities = ops.matmul(z_1, ops.transpose(z_2)) / self.temperature
        labels = ops.arange(ops.shape(z_1)[0])
        self.accuracy.update_state(labels, similarities)
        self.accuracy.update_state(labels, ops.transpose(similarities))
        loss_12 = keras.losses.sparse_categorical_crossentropy(
            labels, similarities, from_logits=True
        )
        loss_21 = keras.losses.sparse_categorical_crossentropy(
            labels, ops.transpose(similarities), from_logits=True
        )
        return ops.mean((loss_12 + loss_21) / 2)

    def call(self, images, training=False):
        return self.encoder(images / 255.0, training=training)

    def train_step(self, images):
        view_1 = self.augmenter(images, training=True)
        view_2 = self.augmenter(images, training=True)
        with tf.GradientTape() as tape:
            features_1 = self.encoder(view_1, training=True)
            features_2 = self.encoder(view_2, training=True)
            z_1 = self.projection_head(features_1, training=True)
            z_2 = self.projection_head(features_2, training=True)
            loss = self.contrastive_loss(z_1, z_2)
        variables = (
            self.encoder.trainable_weights + self.projection_head.trainable_weights
        )
        gradients = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        self.loss_tracker.update_state(loss)
        return {m.name: m.result() for m in self.metrics}


def reference_masked_lm(
    vocabulary,
    sequence_length,
    hidden_dim,
    num_layers,
    num_heads,
    intermediate_dim,
    dropout=0.1,
):
    """keras-hub's `BertMaskedLM` + `BertMaskedLMPreprocessor`, defaults kept."""
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True)
    preprocessor = keras_hub.models.BertMaskedLMPreprocessor(
        tokenizer, sequence_length=sequence_length
    )
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary),
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        intermediate_dim=intermediate_dim,
        dropout=dropout,
        max_sequence_length=sequence_length,
    )
    return keras_hub.models.BertMaskedLM(backbone, preprocessor=preprocessor)
