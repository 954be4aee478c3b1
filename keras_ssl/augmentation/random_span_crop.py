"""Random contiguous span cropping of packed token-id sequences."""

import keras
from keras import ops

from keras_ssl.augmentation._token_ops import (
    TokenAugmentation,
    check_token_ids,
    is_special,
    pack_left,
)
from keras_ssl.checks import check_fraction

# Slack for float round-off in `ceil(min_fraction * n)` / `floor(max * n)`.
_EPSILON = 1e-4


@keras.saving.register_keras_serializable(package="keras_ssl")
class RandomSpanCrop(TokenAugmentation):
    """Keeps one random contiguous span of the real tokens of each sequence.

    Works on int token ids of shape `(batch, length)` packed as
    `[CLS] tokens [SEP] [PAD]...`. For a row with `n` real tokens (neither
    padding nor in `special_token_ids`), the span length is drawn uniformly
    among the integers in `[ceil(min_fraction * n), floor(max_fraction * n)]`
    (at least 1; when that range holds no integer, `ceil(min_fraction * n)`),
    and its start uniformly among the positions where it fits. The real
    tokens outside the span are removed; special tokens are all kept, and
    the row is re-packed to the left (`[CLS] span [SEP] [PAD]...`) and
    re-filled with `pad_token_id`. Rows without real tokens are unchanged.
    Since special tokens are never removed, list only the packing tokens
    (`[CLS]`, `[SEP]`, ...) there, not `[UNK]`.

    The output has the input's shape and dtype. Fresh randomness on every
    call, on-graph and XLA-friendly; works inside `tf.data` and inside a
    model. Identity when `training=False`.

    Args:
        min_fraction: smallest fraction of a row's real tokens kept, in
            `(0, 1]`.
        max_fraction: largest fraction kept, in `[min_fraction, 1]`.
        pad_token_id: id of `[PAD]`.
        special_token_ids: ids always kept (`[CLS]`, `[SEP]`, ...). The
            padding id is always treated as special.
        seed: int seed.

    Example:

    >>> crop = RandomSpanCrop(0.5, 0.8, pad_token_id=0,
    ...                       special_token_ids=[1, 2], seed=0)
    >>> ids = np.array([[1, 5, 6, 7, 8, 9, 2, 0]])
    >>> crop(ids).shape  # e.g. [[1, 6, 7, 8, 2, 0, 0, 0]]
    TensorShape([1, 8])

    Reference:
        [Giorgi et al., 2021](https://arxiv.org/abs/2006.03659);
        [Gao et al., 2021](https://arxiv.org/abs/2104.08821)
    """

    _config_names = ("min_fraction", "max_fraction")

    def __init__(
        self,
        min_fraction=0.5,
        max_fraction=1.0,
        pad_token_id=0,
        special_token_ids=(),
        seed=None,
        **kw,
    ):
        super().__init__(**kw)
        min_fraction = check_fraction("min_fraction", min_fraction)
        max_fraction = check_fraction("max_fraction", max_fraction)
        if min_fraction <= 0.0:
            raise ValueError(
                "Argument `min_fraction` must be a number in (0, 1]. "
                f"Received: min_fraction={min_fraction!r}"
            )
        if max_fraction < min_fraction:
            raise ValueError(
                "Argument `max_fraction` must be >= `min_fraction`. Received: "
                f"min_fraction={min_fraction}, max_fraction={max_fraction}"
            )
        self.min_fraction = min_fraction
        self.max_fraction = max_fraction
        self._init_token_args(pad_token_id, special_token_ids, seed)

    def call(self, token_ids, training=True):
        token_ids = check_token_ids(token_ids)
        if not training:
            return token_ids
        batch = ops.shape(token_ids)[0]
        special = is_special(token_ids, self._special_ids)
        real = ops.logical_not(special)
        real_int = ops.cast(real, "int32")
        num_real = ops.sum(real_int, axis=1)
        n = ops.cast(num_real, "float32")

        low = ops.cast(ops.ceil(self.min_fraction * n - _EPSILON), "int32")
        low = ops.maximum(low, 1)
        high = ops.cast(ops.floor(self.max_fraction * n + _EPSILON), "int32")
        high = ops.maximum(ops.minimum(high, num_real), low)
        draws = keras.random.uniform((batch, 2), seed=self.seed_generator)
        choices = ops.cast(high - low + 1, "float32")
        span = low + ops.cast(ops.floor(draws[:, 0] * choices), "int32")
        span = ops.minimum(span, high)
        room = ops.maximum(num_real - span, 0)
        start = ops.cast(
            ops.floor(draws[:, 1] * ops.cast(room + 1, "float32")), "int32"
        )
        start = ops.minimum(start, room)

        # Index of each real token among the real tokens of its row.
        real_index = ops.cumsum(real_int, axis=1) - 1
        in_span = ops.logical_and(
            real_index >= start[:, None], real_index < (start + span)[:, None]
        )
        is_pad = token_ids == ops.cast(self.pad_token_id, token_ids.dtype)
        keep = ops.logical_or(
            ops.logical_and(special, ops.logical_not(is_pad)),
            ops.logical_and(real, in_span),
        )
        return pack_left(token_ids, keep, self.pad_token_id)
