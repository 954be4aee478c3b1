"""SimCLR: contrastive learning of visual representations."""

import copy

import keras
from keras import ops

from keras_ssl.augmentation.view_augmenter import ViewAugmenter
from keras_ssl.layers.projection_head import ProjectionHead
from keras_ssl.losses.nt_xent import _check_temperature, nt_xent_logits
from keras_ssl.models.image_inputs import prepare_images
from keras_ssl.models.ssl_model import SSLModel, gather_from_replicas


def check_vector_encoder(encoder):
    """Raises ValueError unless `encoder` maps images to `(batch, dim)`."""
    try:
        shape, in_shape = encoder.output_shape, encoder.input_shape
    except (AttributeError, ValueError):
        raise ValueError(
            "The encoder must be a functional keras.Model with known input "
            "and output shapes (e.g. keras_ssl.encoders.conv_encoder). "
            f"Received: {type(encoder).__name__} without them"
        ) from None
    if not isinstance(shape, tuple) or len(shape) != 2:
        raise ValueError(
            "The encoder must return one vector per image. Received: "
            f"encoder.output_shape={shape}. Expected: (batch, dim). Add "
            "global pooling or Flatten at the end of the encoder."
        )
    if not isinstance(in_shape, tuple) or len(in_shape) != 4:
        raise ValueError(
            "The encoder must take images of shape (batch, height, width, "
            f"channels). Received: encoder.input_shape={in_shape}"
        )


@keras.saving.register_keras_serializable(package="keras_ssl")
class SimCLR(SSLModel):
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

    Example:

    >>> from keras_ssl.encoders import conv_encoder
    >>> model = SimCLR(conv_encoder((28, 28, 1), widths=(8, 16)))
    >>> model.compile(optimizer="adam")
    >>> model.fit(images_uint8, batch_size=64, epochs=1)  # doctest: +SKIP

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
        **kwargs,
    ):
        super().__init__(encoder, **kwargs)
        check_vector_encoder(encoder)
        _check_temperature(temperature)
        self.projection_dim = projection_dim
        self.projection_hidden_dims = tuple(projection_hidden_dims)
        self.temperature = float(temperature)
        self.seed = seed
        if augmenter is None:
            augmenter = ViewAugmenter(tuple(encoder.input_shape[1:3]), seed=seed)
        self.augmenter = augmenter
        self.projection_head = ProjectionHead(
            projection_dim, projection_hidden_dims, name="projection_head"
        )
        self.projection_head.build(encoder.output_shape)
        self.contrastive_accuracy = keras.metrics.Mean(name="contrastive_accuracy")
        self.build()

    def call(self, images, training=False):
        return self.encoder(prepare_images(images), training=training)

    def compute_objective(self, images, training=False):
        images = prepare_images(images)
        # Views are random at evaluation time too: the loss needs them.
        view_1 = self.augmenter(images, training=True)
        view_2 = self.augmenter(images, training=True)
        batch = ops.shape(images)[0]
        features = self.encoder(
            ops.concatenate([view_1, view_2], axis=0), training=training
        )
        z = self.projection_head(features, training=training)
        z_1, z_2 = z[:batch], z[batch:]
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
        return loss_sum, batch, {"correct": correct}

    def method_metrics(self):
        return [self.contrastive_accuracy]

    def update_method_metrics(self, outputs):
        self.contrastive_accuracy.update_state(outputs["correct"])

    def get_config(self):
        config = super().get_config()
        config.update(
            projection_dim=self.projection_dim,
            projection_hidden_dims=self.projection_hidden_dims,
            temperature=self.temperature,
            augmenter=keras.saving.serialize_keras_object(self.augmenter),
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)
        config["augmenter"] = keras.saving.deserialize_keras_object(config["augmenter"])
        return super().from_config(config)
