"""BERT-style dynamic token masking (80% [MASK], 10% random, 10% unchanged)."""

import math

import keras
from keras import ops

from keras_ssl.augmentation._token_ops import top_k_by_rank
from keras_ssl.checks import check_fraction


@keras.saving.register_keras_serializable(package="keras_ssl")
class TokenMasker(keras.layers.Layer):
    """Selects tokens for masked language modelling and corrupts them.

    In each sequence, `round(mask_rate * n)` of the `n` selectable tokens are
    chosen uniformly at random (at least one when `n > 0`, at most
    `max_predictions`). Padding and special tokens are never selected. Of the
    chosen tokens, a fraction `mask_token_rate` becomes `mask_token_id`,
    `random_token_rate` becomes a random non-special token, and the rest stay
    unchanged. Fresh choices every call, on-graph, seeded, XLA-friendly
    (fixed output shapes).

    Args:
        vocabulary_size: size of the vocabulary (random replacements are
            drawn from `[0, vocabulary_size)` minus the special tokens).
        mask_token_id: id of `[MASK]`.
        special_token_ids: ids never selected (padding, `[CLS]`, ...).
        sequence_length: length of the input sequences.
        mask_rate: fraction of selectable tokens chosen, in `(0, 1)`.
        max_predictions: max tokens chosen per sequence; defaults to
            `ceil(mask_rate * sequence_length)`.
        mask_token_rate: fraction of chosen tokens replaced by `[MASK]`.
        random_token_rate: fraction replaced by a random token.
        seed: int seed.

    Call returns a dict: `token_ids` (corrupted ids, `(batch, length)`),
    `mask_positions` (`(batch, max_predictions)` int32), `mask_ids` (the
    original ids there) and `mask_weights` (1.0 for real predictions, 0.0
    for padding of the prediction slots).

    Example:

    >>> masker = TokenMasker(100, mask_token_id=4, special_token_ids=[0, 1, 2],
    ...                      sequence_length=16, seed=0)
    >>> out = masker(keras.random.randint((2, 16), 5, 100))

    Reference:
        [Devlin et al., 2019](https://arxiv.org/abs/1810.04805)
    """

    def __init__(
        self,
        vocabulary_size,
        mask_token_id,
        special_token_ids,
        sequence_length,
        mask_rate=0.15,
        max_predictions=None,
        mask_token_rate=0.8,
        random_token_rate=0.1,
        seed=None,
        **kw,
    ):
        super().__init__(**kw)
        if not isinstance(mask_rate, int | float) or not 0 < mask_rate < 1:
            raise ValueError(
                "Argument `mask_rate` must be a number in (0, 1). "
                f"Received: mask_rate={mask_rate!r}"
            )
        for arg, v in (
            ("vocabulary_size", vocabulary_size),
            ("sequence_length", sequence_length),
        ):
            if not isinstance(v, int) or v < 2:
                raise ValueError(
                    f"Argument `{arg}` must be an int >= 2. Received: {arg}={v!r}"
                )
        if not isinstance(mask_token_id, int) or not 0 <= mask_token_id < (
            vocabulary_size
        ):
            raise ValueError(
                "Argument `mask_token_id` must be an id in [0, vocabulary_size). "
                f"Received: mask_token_id={mask_token_id!r} with "
                f"vocabulary_size={vocabulary_size}"
            )
        mask_token_rate = check_fraction("mask_token_rate", mask_token_rate)
        random_token_rate = check_fraction("random_token_rate", random_token_rate)
        if mask_token_rate + random_token_rate > 1:
            raise ValueError(
                "`mask_token_rate + random_token_rate` must be <= 1. Received: "
                f"mask_token_rate={mask_token_rate}, "
                f"random_token_rate={random_token_rate}"
            )
        if max_predictions is None:
            max_predictions = max(1, math.ceil(mask_rate * sequence_length))
        if not isinstance(max_predictions, int) or not (
            1 <= max_predictions <= sequence_length
        ):
            raise ValueError(
                "Argument `max_predictions` must be an int in [1, "
                f"sequence_length={sequence_length}]. "
                f"Received: max_predictions={max_predictions!r}"
            )
        self.vocabulary_size = vocabulary_size
        self.mask_token_id = mask_token_id
        self.special_token_ids = sorted({int(i) for i in special_token_ids})
        self.sequence_length = sequence_length
        self.mask_rate = float(mask_rate)
        self.max_predictions = max_predictions
        self.mask_token_rate = mask_token_rate
        self.random_token_rate = random_token_rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        special = set(self.special_token_ids)
        self._regular_ids = [i for i in range(vocabulary_size) if i not in special]
        if not self._regular_ids:
            raise ValueError(
                "Every token id is special: no token can be predicted. "
                f"Received: vocabulary_size={vocabulary_size}, "
                f"special_token_ids={self.special_token_ids}"
            )

    def _is_special(self, ids):
        special = ops.convert_to_tensor(self.special_token_ids, dtype=ids.dtype)
        return ops.any(ops.expand_dims(ids, -1) == special, axis=-1)

    def call(self, token_ids):
        token_ids = ops.convert_to_tensor(token_ids)
        if len(token_ids.shape) != 2:
            raise ValueError(
                "Expected `token_ids` of shape (batch, sequence_length). "
                f"Received: token_ids.shape={tuple(token_ids.shape)}"
            )
        token_ids = ops.cast(token_ids, "int32")
        batch = ops.shape(token_ids)[0]
        length = ops.shape(token_ids)[1]
        p = self.max_predictions

        selectable = ops.logical_not(self._is_special(token_ids))
        num_selectable = ops.sum(ops.cast(selectable, "float32"), axis=1)
        num_pred = ops.round(self.mask_rate * num_selectable)
        num_pred = ops.clip(num_pred, 1.0, float(p))
        num_pred = ops.where(num_selectable > 0, num_pred, 0.0)

        scores = keras.random.uniform((batch, length), seed=self.seed_generator)
        scores = ops.where(selectable, scores, -1.0)
        top_scores, positions = top_k_by_rank(scores, p)
        rank = ops.cast(ops.arange(p), "float32")[None, :]
        chosen = ops.logical_and(rank < num_pred[:, None], top_scores >= 0.0)
        weights = ops.cast(chosen, "float32")
        targets = ops.take_along_axis(token_ids, positions, axis=1)

        u = keras.random.uniform((batch, p), seed=self.seed_generator)
        # Random replacements come from the non-special tokens only.
        regular = ops.convert_to_tensor(self._regular_ids, dtype="int32")
        random_index = keras.random.randint(
            (batch, p), 0, len(self._regular_ids), seed=self.seed_generator
        )
        random_ids = ops.take(regular, ops.cast(random_index, "int32"))
        use_mask = u < self.mask_token_rate
        use_random = ops.logical_and(
            u >= self.mask_token_rate,
            u < self.mask_token_rate + self.random_token_rate,
        )
        new_ids = ops.where(
            use_mask,
            self.mask_token_id,
            ops.where(use_random, random_ids, targets),
        )
        # Scatter the new ids into the chosen positions (positions are distinct).
        hits = (
            ops.one_hot(positions, length, dtype="int32")
            * ops.cast(chosen, "int32")[..., None]
        )
        replaced = ops.sum(hits * new_ids[..., None], axis=1)
        is_chosen = ops.sum(hits, axis=1) > 0
        masked = ops.where(is_chosen, replaced, token_ids)
        return {
            "token_ids": masked,
            "mask_positions": positions,
            "mask_ids": targets,
            "mask_weights": weights,
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size,
            mask_token_id=self.mask_token_id,
            special_token_ids=list(self.special_token_ids),
            sequence_length=self.sequence_length,
            mask_rate=self.mask_rate,
            max_predictions=self.max_predictions,
            mask_token_rate=self.mask_token_rate,
            random_token_rate=self.random_token_rate,
            seed=self.seed,
        )
        return config
