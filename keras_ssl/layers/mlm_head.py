"""Masked-language-model head, optionally tied to the input embeddings."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_ssl")
class MLMHead(keras.layers.Layer):
    """Predicts token logits at the masked positions of a sequence.

    Gathers the hidden states at `mask_positions`, applies
    `Dense(hidden) → GELU → LayerNorm`, then scores every vocabulary token.
    With `embedding_matrix` given at call time (the encoder's input token
    embeddings, `(vocabulary_size, hidden_dim)`), the output layer is tied to
    it, as in BERT: a masked token's gradient moves its own input embedding
    toward the contexts it appears in, which is what makes short pretraining
    budgets useful. Without it, the head has its own output matrix.

    Args:
        vocabulary_size: number of tokens.
        hidden_dim: width of the incoming hidden states.
        tied: when `True` the head has no output matrix of its own and every
            call must pass `embedding_matrix`.
        name: layer name.

    Example:

    >>> head = MLMHead(100, 16)
    >>> head(keras.random.normal((2, 8, 16)), keras.ops.zeros((2, 3), "int32")).shape
    TensorShape([2, 3, 100])

    Reference:
        [Devlin et al., 2019](https://arxiv.org/abs/1810.04805)
    """

    def __init__(self, vocabulary_size, hidden_dim, tied=False, **kw):
        super().__init__(**kw)
        self.vocabulary_size = vocabulary_size
        self.hidden_dim = hidden_dim
        self.tied = tied
        self.transform = keras.layers.Dense(hidden_dim, activation="gelu")
        self.norm = keras.layers.LayerNormalization(epsilon=1e-6)
        self.output_matrix = None

    def build(self, sequence_shape=None, mask_positions_shape=None):
        self.transform.build((None, None, self.hidden_dim))
        self.norm.build((None, None, self.hidden_dim))
        if not self.tied:
            self.output_matrix = self.add_weight(
                (self.vocabulary_size, self.hidden_dim),
                initializer="glorot_uniform",
                name="output_matrix",
            )
        self.output_bias = self.add_weight(
            (self.vocabulary_size,), initializer="zeros", name="output_bias"
        )
        self.built = True

    def call(self, sequence, mask_positions, embedding_matrix=None):
        positions = ops.cast(mask_positions, "int32")[..., None]
        x = ops.take_along_axis(sequence, positions, axis=1)
        x = self.norm(self.transform(x))
        if embedding_matrix is None and self.tied:
            raise ValueError(
                "This MLMHead was built with `tied=True`: pass the token "
                "embedding matrix as `embedding_matrix`."
            )
        matrix = self.output_matrix if embedding_matrix is None else embedding_matrix
        logits = ops.matmul(x, ops.transpose(ops.cast(matrix, x.dtype)))
        return logits + ops.cast(self.output_bias, x.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size,
            hidden_dim=self.hidden_dim,
            tied=self.tied,
        )
        return config
