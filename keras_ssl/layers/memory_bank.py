"""A FIFO queue of past embeddings, used as extra negatives."""

import keras
from keras import ops

from keras_ssl.cross_replica import assign_on_every_replica


@keras.saving.register_keras_serializable(package="keras_ssl")
class MemoryBank(keras.layers.Layer):
    """Fixed-size first-in-first-out queue of L2-normalised embeddings.

    Holds `size` vectors of `dim` floats as non-trainable state (saved with
    the model). `queue()` reads it; `enqueue(keys)` overwrites the oldest
    `batch` rows, wrapping around. It starts filled with random unit vectors,
    as MoCo does.

    Args:
        size: number of stored embeddings, >= 1.
        dim: embedding size, >= 1.
        seed: seed of the initial random queue.

    Example:

    >>> bank = MemoryBank(size=16, dim=4)
    >>> bank.enqueue(keras.random.normal((3, 4)))
    >>> bank.queue().shape
    TensorShape([16, 4])

    Reference:
        [He et al., 2020](https://arxiv.org/abs/1911.05722)
    """

    def __init__(self, size, dim, seed=None, **kw):
        super().__init__(**kw)
        for arg, v in (("size", size), ("dim", dim)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(
                    f"Argument `{arg}` must be a positive int. Received: {arg}={v!r}"
                )
        self.size, self.dim, self.seed = size, dim, seed
        init = keras.initializers.RandomNormal(seed=seed)
        self._queue = self.add_weight(
            (size, dim), initializer=init, trainable=False, name="queue"
        )
        self._queue.assign(ops.normalize(self._queue, axis=-1))
        self._pointer = self.add_weight(
            (), initializer="zeros", dtype="int32", trainable=False, name="pointer"
        )
        self.built = True

    def queue(self):
        """The stored embeddings, `(size, dim)`."""
        return ops.convert_to_tensor(self._queue)

    def enqueue(self, keys):
        """Writes `keys` `(batch, dim)` over the oldest rows (no gradient).

        Under a multi-replica strategy, `keys` must be the same on every
        replica (e.g. gathered from all of them, as `MoCo` does).
        """
        keys = ops.normalize(ops.stop_gradient(ops.cast(keys, self._queue.dtype)), -1)
        batch = ops.shape(keys)[0]
        rows = (self._pointer + ops.arange(batch, dtype="int32")) % self.size
        assign_on_every_replica(
            [
                (self._queue, ops.scatter_update(self._queue, rows[:, None], keys)),
                (self._pointer, (self._pointer + batch) % self.size),
            ]
        )

    def call(self, inputs=None):
        return self.queue()

    def get_config(self):
        config = super().get_config()
        config.update(size=self.size, dim=self.dim, seed=self.seed)
        return config
