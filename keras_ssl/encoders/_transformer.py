"""Pieces shared by the Transformer encoder and decoder (private)."""

import keras
from keras import ops

from keras_ssl.checks import check_fraction, check_int_range
from keras_ssl.layers.masked_mean_pooling import MaskedMeanPooling


def transformer_inputs(
    vocabulary_size,
    sequence_length,
    hidden_dim,
    num_layers,
    num_heads,
    intermediate_dim,
    dropout,
    pad_token_id,
):
    """Checks the Transformer arguments; returns the token ids input and its
    padding mask.

    Raises:
        ValueError: naming the first bad argument.
    """
    for arg, value in (
        ("vocabulary_size", vocabulary_size),
        ("sequence_length", sequence_length),
        ("hidden_dim", hidden_dim),
        ("num_layers", num_layers),
        ("num_heads", num_heads),
        ("intermediate_dim", intermediate_dim),
    ):
        check_int_range(arg, value, 1)
    if hidden_dim % num_heads:
        raise ValueError(
            "Argument `hidden_dim` must be divisible by `num_heads`. "
            f"Received: hidden_dim={hidden_dim}, num_heads={num_heads}"
        )
    check_fraction("dropout", dropout, high_open=True)
    check_int_range("pad_token_id", pad_token_id, 0)
    if pad_token_id >= vocabulary_size:
        raise ValueError(
            "Argument `pad_token_id` must be < `vocabulary_size`. Received: "
            f"pad_token_id={pad_token_id}, vocabulary_size={vocabulary_size}"
        )
    token_ids = keras.Input(shape=(sequence_length,), dtype="int32", name="token_ids")
    return token_ids, ops.not_equal(token_ids, pad_token_id)


def transformer_model(token_ids, x, padding_mask, name):
    """The model from `token_ids` to `sequence_output` (`x`) and
    `pooled_output`, the mean of `x` over the non-padding positions."""
    pooled = MaskedMeanPooling(name="pooled")(x, padding_mask=padding_mask)
    return keras.Model(
        token_ids, {"sequence_output": x, "pooled_output": pooled}, name=name
    )
