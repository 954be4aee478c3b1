"""A small convolutional image encoder."""

import keras
from keras import layers

from keras_ssl.layers.fused_batch_normalization import FusedBatchNormalization


def conv_encoder(
    input_shape=(28, 28, 1),
    widths=(32, 64, 128),
    blocks_per_stage=1,
    embedding_dim=None,
    synchronized_batch_norm=True,
    name="conv_encoder",
):
    """Builds a small ConvNet that maps images in `[0, 1]` to a vector.

    Each stage is a stride-2 3×3 convolution followed by `blocks_per_stage`
    residual 3×3 blocks, all with batch normalization and ReLU; global average
    pooling gives the representation (its size is `widths[-1]`, or
    `embedding_dim` when a final linear layer is wanted). Batch normalization
    is synchronized across replicas under a `tf.distribute` strategy, as
    SimCLR requires, and runs on TensorFlow's fused kernel on one replica
    (`keras_ssl.layers.FusedBatchNormalization`).

    Args:
        input_shape: `(height, width, channels)` of the images.
        widths: channels of each stage.
        blocks_per_stage: residual blocks after each downsampling conv.
        embedding_dim: optional size of a final `Dense` projection.
        synchronized_batch_norm: use cross-replica batch statistics.
        name: model name.

    Returns:
        A functional `keras.Model` from `(batch, *input_shape)` floats to
        `(batch, dim)`.

    Example:

    >>> encoder = conv_encoder((28, 28, 1), widths=(8, 16))
    >>> encoder(keras.random.uniform((2, 28, 28, 1))).shape
    TensorShape([2, 16])
    """
    if len(input_shape) != 3:
        raise ValueError(
            "Argument `input_shape` must be (height, width, channels). "
            f"Received: input_shape={input_shape!r}"
        )
    if not widths or not all(isinstance(w, int) and w > 0 for w in widths):
        raise ValueError(
            f"Argument `widths` must be positive ints. Received: widths={widths!r}"
        )

    def bn():
        return FusedBatchNormalization(synchronized=synchronized_batch_norm)

    inputs = keras.Input(shape=tuple(input_shape), name="images")
    x = inputs
    for width in widths:
        x = layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False)(x)
        x = layers.ReLU()(bn()(x))
        for _ in range(blocks_per_stage):
            y = layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
            y = layers.ReLU()(bn()(y))
            y = layers.Conv2D(width, 3, padding="same", use_bias=False)(y)
            y = bn()(y)
            x = layers.ReLU()(layers.Add()([x, y]))
    x = layers.GlobalAveragePooling2D()(x)
    if embedding_dim:
        x = layers.Dense(embedding_dim)(x)
    return keras.Model(inputs, x, name=name)
