"""Random token swaps within packed token-id sequences (EDA random swap)."""

import math
import numbers

import keras
from keras import ops

from keras_ssl.augmentation._token_ops import (
    TokenAugmentation,
    check_token_ids,
    is_special,
)
from keras_ssl.checks import check_fraction


@keras.saving.register_keras_serializable(package="keras_ssl")
class RandomTokenSwap(TokenAugmentation):
    """Swaps random pairs of real tokens within each sequence.

    Works on int token ids of shape `(batch, length)` packed as
    `[CLS] tokens [SEP] [PAD]...`. In each row, two distinct real tokens
    (neither padding nor in `special_token_ids`) are chosen uniformly and
    swapped, and this is repeated: `num_swaps` times, or, with `rate`,
    `max(1, round(rate * n))` times for a row with `n` real tokens (as in
    EDA). Later swaps may undo earlier ones. Rows with fewer than two real
    tokens are unchanged. Special tokens and padding never move, so every
    row keeps the same multiset of tokens.

    The output has the input's shape and dtype. Fresh randomness on every
    call, on-graph (one `while` loop over the swaps) and XLA-friendly when
    the sequence length is static; works inside `tf.data` and inside a
    model. Identity when `training=False`.

    Args:
        num_swaps: number of swaps per row, an int >= 0. Give either
            `num_swaps` or `rate`; when neither is given, `num_swaps=1`.
        rate: number of swaps as a fraction of each row's real tokens, in
            `[0, 1]` (`0` means no swap).
        pad_token_id: id of `[PAD]`.
        special_token_ids: ids never moved (`[CLS]`, `[SEP]`, ...). The
            padding id is always treated as special.
        seed: int seed.

    Example:

    >>> swap = RandomTokenSwap(num_swaps=2, pad_token_id=0,
    ...                        special_token_ids=[1, 2], seed=0)
    >>> ids = np.array([[1, 5, 6, 7, 8, 2, 0, 0]])
    >>> swap(ids).shape  # e.g. [[1, 7, 6, 5, 8, 2, 0, 0]]
    TensorShape([1, 8])

    Reference:
        [Wei and Zou, 2019](https://arxiv.org/abs/1901.11196)
    """

    _config_names = ("num_swaps", "rate")

    def __init__(
        self,
        num_swaps=None,
        rate=None,
        pad_token_id=0,
        special_token_ids=(),
        seed=None,
        **kw,
    ):
        super().__init__(**kw)
        if num_swaps is not None and rate is not None:
            raise ValueError(
                "Give either `num_swaps` or `rate`, not both. Received: "
                f"num_swaps={num_swaps!r}, rate={rate!r}"
            )
        if rate is None:
            num_swaps = 1 if num_swaps is None else num_swaps
            if (
                not isinstance(num_swaps, numbers.Integral)
                or isinstance(num_swaps, bool)
                or num_swaps < 0
            ):
                raise ValueError(
                    "Argument `num_swaps` must be an int >= 0. "
                    f"Received: num_swaps={num_swaps!r}"
                )
            num_swaps = int(num_swaps)
        else:
            rate = check_fraction("rate", rate)
        self.num_swaps = num_swaps
        self.rate = rate
        self._init_token_args(pad_token_id, special_token_ids, seed)

    def call(self, token_ids, training=True):
        token_ids = check_token_ids(token_ids)
        if not training or self.num_swaps == 0 or self.rate == 0.0:
            return token_ids
        batch, length = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
        real = ops.logical_not(is_special(token_ids, self._special_ids))
        num_real = ops.sum(ops.cast(real, "int32"), axis=1)
        positions = ops.arange(length, dtype="int32")[None, :]
        # Positions of the real tokens, in order, in the first `num_real`
        # columns. Swaps only exchange real tokens, so these never change.
        real_positions = ops.cast(
            ops.argsort(ops.where(real, positions, positions + length), axis=1),
            "int32",
        )

        if self.rate is None:
            max_swaps = self.num_swaps
            num_swaps = ops.full((batch,), self.num_swaps, dtype="int32")
        else:
            num_swaps = ops.cast(
                ops.round(self.rate * ops.cast(num_real, "float32")), "int32"
            )
            num_swaps = ops.maximum(num_swaps, 1)
            static_length = token_ids.shape[1]
            if static_length is not None:  # A static bound keeps XLA happy.
                max_swaps = max(1, math.ceil(self.rate * static_length))
            else:
                max_swaps = ops.max(num_swaps)
        num_swaps = ops.where(num_real >= 2, num_swaps, 0)

        # All draws up front; pick indices a != b among the row's real tokens.
        n = ops.cast(num_real, "float32")[:, None]
        draws_a = keras.random.uniform((batch, max_swaps), seed=self.seed_generator)
        draws_b = keras.random.uniform((batch, max_swaps), seed=self.seed_generator)
        last = ops.maximum(num_real - 1, 0)[:, None]
        index_a = ops.minimum(ops.cast(ops.floor(draws_a * n), "int32"), last)
        index_b = ops.cast(ops.floor(draws_b * ops.maximum(n - 1.0, 0.0)), "int32")
        index_b = ops.minimum(index_b, ops.maximum(last - 1, 0))
        index_b = ops.minimum(
            index_b + ops.cast(index_b >= index_a, "int32"), length - 1
        )
        swap_i = ops.take_along_axis(real_positions, index_a, axis=1)
        swap_j = ops.take_along_axis(real_positions, index_b, axis=1)

        def swap(k, ids):
            i = ops.take(swap_i, k, axis=1)[:, None]
            j = ops.take(swap_j, k, axis=1)[:, None]
            value_i = ops.take_along_axis(ids, i, axis=1)
            value_j = ops.take_along_axis(ids, j, axis=1)
            swapped = ops.where(
                positions == i, value_j, ops.where(positions == j, value_i, ids)
            )
            active = (k < num_swaps)[:, None]
            return ops.where(active, swapped, ids)

        return ops.fori_loop(0, max_swaps, swap, token_ids)
