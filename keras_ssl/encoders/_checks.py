"""Argument checks shared by the Transformer encoder and decoder (private)."""

import numbers


def _check_int(name, value, minimum):
    is_int = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not is_int or value < minimum:
        raise ValueError(
            f"Argument `{name}` must be an int >= {minimum}. Received: {name}={value!r}"
        )


def check_transformer_arguments(
    vocabulary_size,
    sequence_length,
    hidden_dim,
    num_layers,
    num_heads,
    intermediate_dim,
    dropout,
    pad_token_id,
):
    """Raises a ValueError naming the first bad Transformer argument."""
    for arg, value in (
        ("vocabulary_size", vocabulary_size),
        ("sequence_length", sequence_length),
        ("hidden_dim", hidden_dim),
        ("num_layers", num_layers),
        ("num_heads", num_heads),
        ("intermediate_dim", intermediate_dim),
    ):
        _check_int(arg, value, 1)
    if hidden_dim % num_heads:
        raise ValueError(
            "Argument `hidden_dim` must be divisible by `num_heads`. "
            f"Received: hidden_dim={hidden_dim}, num_heads={num_heads}"
        )
    if (
        not isinstance(dropout, numbers.Real)
        or isinstance(dropout, bool)
        or not 0 <= dropout < 1
    ):
        raise ValueError(
            "Argument `dropout` must be a number in [0, 1). "
            f"Received: dropout={dropout!r}"
        )
    _check_int("pad_token_id", pad_token_id, 0)
    if pad_token_id >= vocabulary_size:
        raise ValueError(
            "Argument `pad_token_id` must be < `vocabulary_size`. Received: "
            f"pad_token_id={pad_token_id}, vocabulary_size={vocabulary_size}"
        )
