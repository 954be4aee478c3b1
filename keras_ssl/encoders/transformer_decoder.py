"""A small GPT-style (decoder-only) Transformer built from keras-hub layers."""

import keras
import keras_hub

from keras_ssl.encoders._transformer import transformer_inputs, transformer_model


def transformer_decoder(
    vocabulary_size,
    sequence_length,
    hidden_dim=64,
    num_layers=2,
    num_heads=2,
    intermediate_dim=128,
    dropout=0.1,
    pad_token_id=0,
    name="transformer_decoder",
):
    """Builds a GPT-style causal Transformer from token ids to vectors.

    Token + learned position embeddings and dropout, then `num_layers`
    pre-layer-norm `keras_hub.layers.TransformerDecoder` blocks used
    decoder-only (self-attention with a causal mask, no cross-attention),
    then a final layer norm, as in GPT-2. Position `t` of `sequence_output`
    depends on tokens `0..t` only, so it can predict token `t + 1` (see
    `CausalLanguageModel`). Sequences are right-padded with `pad_token_id`;
    the causal mask already hides the padding from every real position.

    The model has two outputs: `sequence_output` `(batch, length,
    hidden_dim)` and `pooled_output` `(batch, hidden_dim)`, the mean over
    non-padding positions, so probes, fine-tuning and export that expect an
    encoder's `pooled_output` work unchanged.

    The input length is fixed at `sequence_length`; generation runs on a
    right-padded buffer of that length (see `CausalLanguageModel.generate`).

    Args:
        vocabulary_size: number of token ids.
        sequence_length: max sequence length (position embeddings).
        hidden_dim: model width.
        num_layers: number of Transformer blocks.
        num_heads: attention heads per block; must divide `hidden_dim`.
        intermediate_dim: width of the feed-forward layers.
        dropout: dropout rate, in `[0, 1)`.
        pad_token_id: id of the padding token.
        name: model name.

    Returns:
        A functional `keras.Model` taking `(batch, sequence_length)` int ids.

    Example:

    >>> decoder = transformer_decoder(100, 16, hidden_dim=8, num_heads=2,
    ...                               intermediate_dim=16)
    >>> out = decoder(keras.ops.ones((2, 16), dtype="int32"))
    >>> out["sequence_output"].shape
    TensorShape([2, 16, 8])

    Reference:
        [Radford et al., 2018](https://cdn.openai.com/research-covers/language-unsupervised/language_understanding_paper.pdf),
        [Radford et al., 2019](https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf)
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
    # GPT-2's initialisation: small embeddings keep the initial (tied)
    # logits near uniform, so the first loss is about log(vocabulary_size).
    x = keras_hub.layers.TokenAndPositionEmbedding(
        vocabulary_size,
        sequence_length,
        hidden_dim,
        embeddings_initializer=keras.initializers.RandomNormal(stddev=0.02),
        name="embeddings",
    )(token_ids)
    x = keras.layers.Dropout(dropout, name="embeddings_dropout")(x)
    for i in range(num_layers):
        block = keras_hub.layers.TransformerDecoder(
            intermediate_dim,
            num_heads,
            dropout=dropout,
            activation="gelu",
            layer_norm_epsilon=1e-5,
            normalize_first=True,
            name=f"transformer_layer_{i}",
        )
        # Built explicitly with both shapes, as keras-hub's `from_config`
        # rebuilds it (no encoder sequence: decoder-only), so the saved build
        # config is the same before and after a round trip.
        block.build((None, sequence_length, hidden_dim), None)
        x = block(x, decoder_padding_mask=padding_mask, use_causal_mask=True)
    x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    return transformer_model(token_ids, x, padding_mask, name)
