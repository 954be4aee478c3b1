"""MLP projection head used by contrastive and non-contrastive methods."""

import keras

from keras_ssl.layers.fused_batch_normalization import FusedBatchNormalization


@keras.saving.register_keras_serializable(package="keras_ssl")
class ProjectionHead(keras.layers.Layer):
    """`Dense → BatchNorm → ReLU` hidden layers, then a linear output layer.

    Args:
        output_dim: size of the projection.
        hidden_dims: sizes of the hidden layers (may be empty for a linear
            head).
        batch_norm: whether hidden layers use batch normalization
            (synchronized across replicas).
        name: layer name.

    Example:

    >>> head = ProjectionHead(32, hidden_dims=(64,))
    >>> head(keras.random.normal((4, 16))).shape
    TensorShape([4, 32])

    Reference:
        [Chen et al., 2020](https://arxiv.org/abs/2002.05709)
    """

    def __init__(self, output_dim, hidden_dims=(256,), batch_norm=True, **kw):
        super().__init__(**kw)
        if not isinstance(output_dim, int) or output_dim < 1:
            raise ValueError(
                "Argument `output_dim` must be a positive int. "
                f"Received: output_dim={output_dim!r}"
            )
        self.output_dim = output_dim
        self.hidden_dims = tuple(int(d) for d in hidden_dims)
        self.batch_norm = batch_norm
        self.hidden = []
        for dim in self.hidden_dims:
            block = [keras.layers.Dense(dim, use_bias=not batch_norm)]
            if batch_norm:
                block.append(FusedBatchNormalization(synchronized=True))
            block.append(keras.layers.ReLU())
            self.hidden.append(block)
        self.out = keras.layers.Dense(output_dim)

    def build(self, input_shape):
        shape = tuple(input_shape)
        for block in self.hidden:
            for layer in block:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)
        self.out.build(shape)

    def call(self, x, training=None):
        for block in self.hidden:
            for layer in block:
                x = layer(x, training=training)
        return self.out(x)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            output_dim=self.output_dim,
            hidden_dims=self.hidden_dims,
            batch_norm=self.batch_norm,
        )
        return config
