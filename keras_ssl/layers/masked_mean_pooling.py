"""Mean over the non-padding positions of a sequence."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_ssl")
class MaskedMeanPooling(keras.layers.Layer):
    """Averages a `(batch, length, dim)` sequence over positions where `padding_mask`.

    Args:
        name: layer name.

    Example:

    >>> pool = MaskedMeanPooling()
    >>> x = keras.random.normal((2, 5, 8))
    >>> pool(x, padding_mask=keras.ops.ones((2, 5), dtype="bool")).shape
    TensorShape([2, 8])
    """

    def call(self, sequence, padding_mask):
        weights = ops.cast(padding_mask, sequence.dtype)[..., None]
        total = ops.sum(sequence * weights, axis=1)
        count = ops.maximum(ops.sum(weights, axis=1), 1.0)
        return total / count

    def compute_output_shape(self, sequence_shape, padding_mask_shape=None):
        return (sequence_shape[0], sequence_shape[-1])
