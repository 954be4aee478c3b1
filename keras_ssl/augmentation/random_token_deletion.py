"""Random token deletion on packed token-id sequences (EDA random deletion)."""

import keras
from keras import ops

from keras_ssl.augmentation._token_ops import (
    TokenAugmentation,
    check_token_ids,
    is_special,
    pack_left,
)
from keras_ssl.checks import check_fraction


@keras.saving.register_keras_serializable(package="keras_ssl")
class RandomTokenDeletion(TokenAugmentation):
    """Deletes random tokens from packed token-id sequences.

    Works on int token ids of shape `(batch, length)` packed as
    `[CLS] tokens [SEP] [PAD]...`. Each real token (neither padding nor in
    `special_token_ids`) is deleted independently with probability `rate`;
    the surviving tokens, special ones included, are moved to the front of
    the row in their original order and the row is re-filled with
    `pad_token_id`. A row never loses all of its real tokens: if every one
    of them is drawn for deletion, one of them (uniformly chosen) is kept.
    Special tokens are never deleted, wherever they are, so list only the
    packing tokens (`[CLS]`, `[SEP]`, ...) there, not `[UNK]`.

    The output has the input's shape and dtype. Fresh randomness on every
    call, on-graph and XLA-friendly; works inside `tf.data` and inside a
    model. Identity when `training=False`.

    Args:
        rate: probability of deleting each real token, in `[0, 1)`.
        pad_token_id: id of `[PAD]`; never deleted, and used to re-fill
            the rows.
        special_token_ids: ids never deleted (`[CLS]`, `[SEP]`, ...). The
            padding id is always treated as special.
        seed: int seed.

    Example:

    >>> delete = RandomTokenDeletion(0.2, pad_token_id=0,
    ...                              special_token_ids=[1, 2], seed=0)
    >>> ids = np.array([[1, 5, 6, 7, 8, 2, 0, 0]])
    >>> delete(ids).shape  # e.g. [[1, 5, 7, 8, 2, 0, 0, 0]]
    TensorShape([1, 8])

    Reference:
        [Wei and Zou, 2019](https://arxiv.org/abs/1901.11196)
    """

    _config_names = ("rate",)

    def __init__(self, rate=0.1, pad_token_id=0, special_token_ids=(), seed=None, **kw):
        super().__init__(**kw)
        rate = check_fraction("rate", rate)
        if rate >= 1.0:
            raise ValueError(
                "Argument `rate` must be a number in [0, 1). Received: rate=1.0"
            )
        self.rate = rate
        self._init_token_args(pad_token_id, special_token_ids, seed)

    def call(self, token_ids, training=True):
        token_ids = check_token_ids(token_ids)
        if not training or self.rate == 0.0:
            return token_ids
        special = is_special(token_ids, self._special_ids)
        real = ops.logical_not(special)
        draws = keras.random.uniform(ops.shape(token_ids), seed=self.seed_generator)
        delete = ops.logical_and(real, draws < self.rate)
        # Rows that would lose every real token keep the one with the
        # largest draw (uniform among them, as all draws are below `rate`).
        survivors = ops.sum(
            ops.cast(ops.logical_and(real, ops.logical_not(delete)), "int32"), axis=1
        )
        best = ops.argmax(ops.where(real, draws, -1.0), axis=1)
        positions = ops.arange(ops.shape(token_ids)[1], dtype="int32")[None, :]
        rescue = ops.logical_and(
            positions == ops.cast(best, "int32")[:, None],
            (survivors == 0)[:, None],
        )
        delete = ops.logical_and(delete, ops.logical_not(rescue))
        is_pad = token_ids == ops.cast(self.pad_token_id, token_ids.dtype)
        keep = ops.logical_not(ops.logical_or(delete, is_pad))
        return pack_left(token_ids, keep, self.pad_token_id)
