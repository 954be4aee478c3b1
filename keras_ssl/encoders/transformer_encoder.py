"""A small Transformer text encoder built from keras-hub layers."""

import keras
import keras_hub

from keras_ssl.encoders._transformer import transformer_inputs, transformer_model


def transformer_encoder(
    vocabulary_size,
    sequence_length,
    hidden_dim=128,
    num_layers=2,
    num_heads=2,
    intermediate_dim=256,
    dropout=0.1,
    pad_token_id=0,
    normalize_first=True,
    name="transformer_encoder",
):
    """Builds a BERT-style encoder from token ids to contextual vectors.

    Token + position embeddings, layer norm and dropout, then `num_layers`
    `keras_hub.layers.TransformerEncoder` blocks that ignore padding. The
    model has two outputs: `sequence_output` `(batch, length, hidden_dim)`
    and `pooled_output` `(batch, hidden_dim)`, the mean over non-padding
    positions, which is the sentence representation used by probes,
    fine-tuning and export.

    Args:
        vocabulary_size: number of token ids.
        sequence_length: max sequence length (position embeddings).
        hidden_dim: model width.
        num_layers: number of Transformer blocks.
        num_heads: attention heads per block.
        intermediate_dim: width of the feed-forward layers.
        dropout: dropout rate.
        pad_token_id: id of the padding token.
        normalize_first: pre-layer-norm blocks (stable at the higher
            learning rates short pretraining budgets need) with a final
            layer norm; `False` gives the original post-norm BERT block.
        name: model name.

    Returns:
        A functional `keras.Model` taking `(batch, sequence_length)` int ids.

    Example:

    >>> encoder = transformer_encoder(100, 16, hidden_dim=8, num_heads=2,
    ...                               intermediate_dim=16)
    >>> out = encoder(keras.ops.ones((2, 16), dtype="int32"))
    >>> out["pooled_output"].shape
    TensorShape([2, 8])

    Reference:
        [Devlin et al., 2019](https://arxiv.org/abs/1810.04805)
    """
    token_ids, padding_mask = transformer_inputs(
        vocabulary_size,
        sequence_length,
        hidden_dim,
        num_layers,
        num_heads,
        intermediate_dim,
        dropout,
        pad_token_id,
    )
    x = keras_hub.layers.TokenAndPositionEmbedding(
        vocabulary_size, sequence_length, hidden_dim, name="embeddings"
    )(token_ids)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="embeddings_norm")(x)
    x = keras.layers.Dropout(dropout)(x)
    for i in range(num_layers):
        x = keras_hub.layers.TransformerEncoder(
            intermediate_dim,
            num_heads,
            dropout=dropout,
            activation="gelu",
            layer_norm_epsilon=1e-6,
            normalize_first=normalize_first,
            name=f"transformer_layer_{i}",
        )(x, padding_mask=padding_mask)
    if normalize_first:
        x = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    return transformer_model(token_ids, x, padding_mask, name)
