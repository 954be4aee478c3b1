"""SimCLR: contrastive learning of visual representations."""

import keras
from keras import ops

from keras_ssl.checks import check_positive
from keras_ssl.cross_replica import gather_from_replicas
from keras_ssl.losses.nt_xent import nt_xent_logits
from keras_ssl.models.two_view_model import TwoViewModel, check_vector_encoder

__all__ = ["SimCLR", "check_vector_encoder"]


@keras.saving.register_keras_serializable(package="keras_ssl")
class SimCLR(TwoViewModel):
    """SimCLR: two augmented views, a projection head and NT-Xent.

    Each training step draws two random views of every image on-graph, encodes
    both in one pass, projects them and minimises the symmetric NT-Xent loss.
    Under a `tf.distribute` strategy the projections are gathered from all
    replicas, so every view is contrasted against the whole global batch.

    Metrics: `loss`, `contrastive_accuracy` (fraction of views whose most
    similar other view is their positive).

    Args:
        encoder: `keras.Model` from images in `[0, 1]` to `(batch, dim)`.
        projection_dim: output size of the projection head.
        projection_hidden_dims: hidden sizes of the projection head.
        temperature: NT-Xent temperature, > 0.
        augmenter: layer making one view per call (`training=True`); defaults
            to `ViewAugmenter` at the encoder's input size.
        seed: seed of the default augmenter.
        projection_batch_norm: whether the projection head's hidden layers
            use batch normalization (`Dense → BatchNorm → ReLU`, as in the
            paper) or not (`Dense → ReLU`).
        **kwargs: passed to `TwoViewModel` (e.g. `collapse_metrics`) and
            `keras.Model`.

    Example:

    >>> from keras_ssl.encoders import conv_encoder
    >>> model = SimCLR(conv_encoder((28, 28, 1), widths=(8, 16)))
    >>> model.compile(optimizer="adam")
    >>> model.fit(images_uint8, batch_size=64, epochs=1)  # doctest: +SKIP

    The keras.io SimCLR example's head, `Dense(width, "relu") → Dense(width)`:

    >>> model = SimCLR(  # doctest: +SKIP
    ...     encoder,
    ...     projection_dim=128,
    ...     projection_hidden_dims=(128,),
    ...     projection_batch_norm=False,
    ... )

    Reference:
        [Chen et al., 2020](https://arxiv.org/abs/2002.05709)
    """

    def __init__(
        self,
        encoder,
        projection_dim=64,
        projection_hidden_dims=(256,),
        temperature=0.1,
        augmenter=None,
        seed=None,
        projection_batch_norm=True,
        **kwargs,
    ):
        check_positive("temperature", temperature)
        super().__init__(
            encoder,
            projection_dim=projection_dim,
            projection_hidden_dims=projection_hidden_dims,
            augmenter=augmenter,
            seed=seed,
            projection_batch_norm=projection_batch_norm,
            **kwargs,
        )
        self.temperature = float(temperature)
        self.contrastive_accuracy = keras.metrics.Mean(name="contrastive_accuracy")
        self.build()

    def pair_objective(self, z_1, z_2, training=False):
        keys_1, offset = gather_from_replicas(z_1)
        keys_2, _ = gather_from_replicas(z_2)
        logits, positives = nt_xent_logits(
            z_1, z_2, self.temperature, keys_1, keys_2, offset
        )
        per_anchor = ops.sparse_categorical_crossentropy(
            positives, logits, from_logits=True
        )
        # Each pair's loss is the mean of its two directions.
        loss_sum = 0.5 * ops.sum(per_anchor)
        correct = ops.cast(
            ops.cast(ops.argmax(logits, axis=-1), "int32") == positives, "float32"
        )
        return loss_sum, ops.shape(z_1)[0], {"correct": correct}

    def method_metrics(self):
        return [self.contrastive_accuracy]

    def update_method_metrics(self, outputs):
        self.contrastive_accuracy.update_state(outputs["correct"])

    def get_config(self):
        config = super().get_config()
        config["temperature"] = self.temperature
        return config
