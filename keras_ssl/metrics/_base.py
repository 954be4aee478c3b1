"""Base classes shared by the streaming metrics (private)."""

import keras
from keras import ops

from keras_ssl.checks import check_embeddings, check_positive_int
from keras_ssl.metrics._ops import divide_no_nan


class RunningMean(keras.metrics.Metric):
    """A metric whose `result()` is `total / count` (float64 sums).

    Subclasses add to `self.total` and `self.count` in `update_state`.
    """

    def __init__(self, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(
            shape=(), initializer="zeros", dtype="float64", name="total"
        )
        self.count = self.add_variable(
            shape=(), initializer="zeros", dtype="float64", name="count"
        )

    def result(self):
        return ops.cast(divide_no_nan(self.total, self.count), self.dtype)


class EmbeddingSums(keras.metrics.Metric):
    """A metric of `(batch, dim)` embeddings whose state is sized by `dim`.

    The state (`count`, the per-dimension `total`, then what
    `build_sums(dim)` adds) is created at construction when `dim` is given,
    else from the static last dimension of the first batch.
    `checked_embeddings(embeddings)` checks a batch and builds the state.
    """

    def __init__(self, dim=None, name=None, dtype=None):
        check_positive_int("dim", dim, allow_none=True)
        super().__init__(name=name, dtype=dtype)
        self.dim = None if dim is None else int(dim)
        self._state_built = False
        if self.dim is not None:
            self._build_state(self.dim)

    def build_sums(self, dim):
        """Adds the subclass's state variables (after `count` and `total`)."""
        raise NotImplementedError

    def _build_state(self, dim):
        self.dim = int(dim)
        self.count = self.add_variable(
            shape=(), initializer="zeros", dtype="float64", name="count"
        )
        self.total = self.add_variable(
            shape=(self.dim,), initializer="zeros", dtype="float64", name="total"
        )
        self.build_sums(self.dim)
        self._state_built = True

    def checked_embeddings(self, embeddings):
        """Checks `embeddings` against the state (built here if needed)."""
        shape = check_embeddings(None, embeddings)
        if not self._state_built:
            if shape[1] is None:
                raise ValueError(
                    "Cannot infer the embedding dimension from a batch of "
                    f"unknown static shape; pass `dim`. Received: shape={shape}"
                )
            self._build_state(shape[1])
        if shape[1] is not None and shape[1] != self.dim:
            raise ValueError(
                f"Expected embeddings of dimension {self.dim} (the metric's "
                f"state). Received: shape={shape}"
            )
        return embeddings

    def get_config(self):
        config = super().get_config()
        config.update({"dim": self.dim})
        return config
