"""Batch normalization on TensorFlow's fused kernel."""

import keras
import tensorflow as tf
from keras import ops

from keras_ssl.cross_replica import num_replicas


@keras.saving.register_keras_serializable(package="keras_ssl")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` that trains on the fused kernel.

    Keras 3 computes batch normalization from separate ops (moments, then
    the affine transform, upcast to float32 under mixed precision), and its
    gradient is the derivative of each. In training, for channels-last
    inputs (`(N, H, W, C)`, and `(N, C)` / `(N, L, C)` seen as
    `(N, 1, 1, C)` / `(N, L, 1, C)`), this layer runs TensorFlow's
    `FusedBatchNormV3` instead: one kernel forward, one backward, in the
    input's dtype (bfloat16 / float16 inputs keep float32 statistics).
    Measured on the 2-core machines this project is built on (TF 2.21), a
    forward + backward pass of `keras_ssl.encoders.conv_encoder` (32-64-128,
    batch 512 of 28x28) took 0.79x the time of the same encoder on Keras's
    layer in float32 and 0.52x under `mixed_bfloat16`
    (`benchmarks/throughput.py` measures the whole train step).

    Same weights, arguments, config and moving-statistics update as the
    Keras layer (the moving variance averages the biased batch variance), so
    weights load both ways. The Keras computation is used where the fused
    kernel does not apply: inference, a frozen layer (`trainable=False`), a
    mask, `renorm`, inputs of rank 5 or more or with the channels on another
    axis, and `synchronized=True` under several replicas (the statistics
    must then come from the global batch).

    Args:
        **kwargs: those of `keras.layers.BatchNormalization`.

    Example:

    >>> layer = FusedBatchNormalization()
    >>> layer(keras.random.normal((8, 4, 4, 3)), training=True).shape
    TensorShape([8, 4, 4, 3])

    Reference:
        [Ioffe & Szegedy, 2015](https://arxiv.org/abs/1502.03167)
    """

    def _fusable(self, inputs, training, mask):
        return (
            bool(training)
            and self.trainable
            and mask is None
            and not self.renorm
            and len(inputs.shape) in (2, 3, 4)
            and self.axis in (-1, len(inputs.shape) - 1)
            and not (self.synchronized and num_replicas() > 1)
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        x = ops.cast(inputs, self.compute_dtype)
        channels = x.shape[-1]
        shape = tf.shape(x)
        if len(x.shape) != 4:  # (N, C) or (N, L, C) as (N, L, 1, C)
            length = 1 if len(x.shape) == 2 else shape[1]
            x = tf.reshape(x, tf.stack([shape[0], length, 1, channels]))
        gamma = self.gamma if self.scale else ops.ones((channels,))
        beta = self.beta if self.center else ops.zeros((channels,))
        empty = tf.constant([], dtype="float32")
        y, mean, unbiased_variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x,
            scale=ops.cast(gamma, "float32"),
            offset=ops.cast(beta, "float32"),
            mean=empty,
            variance=empty,
            epsilon=self.epsilon,
            exponential_avg_factor=1.0,
            data_format="NHWC",
            is_training=True,
        )
        # The kernel returns the Bessel-corrected variance; Keras averages
        # the biased one.
        count = ops.cast(tf.size(y) // channels, "float32")
        variance = unbiased_variance * ops.maximum(count - 1.0, 0.0) / count
        mean, variance = ops.stop_gradient(mean), ops.stop_gradient(variance)
        momentum = self.momentum
        self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
        self.moving_variance.assign(
            self.moving_variance * momentum + variance * (1.0 - momentum)
        )
        return tf.reshape(y, shape)
