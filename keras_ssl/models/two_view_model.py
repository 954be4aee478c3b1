"""`TwoViewModel`: the shared data flow of the joint-embedding image methods."""

import copy

import keras
from keras import ops

from keras_ssl.augmentation.view_augmenter import ViewAugmenter
from keras_ssl.layers.projection_head import ProjectionHead
from keras_ssl.metrics.effective_rank import EffectiveRank
from keras_ssl.metrics.embedding_std import EmbeddingStd
from keras_ssl.models.image_inputs import prepare_images
from keras_ssl.models.ssl_model import SSLModel


def check_vector_encoder(encoder):
    """Raises ValueError unless `encoder` maps images to `(batch, dim)`.

    Any `keras.Model` whose input and output shapes are known qualifies: a
    functional model, a `keras.Sequential` that starts with `keras.Input` or
    was built (`encoder.build((None, h, w, c))`), a Keras Applications model
    with `pooling="avg"`. A model without them gets an error saying how to
    give it an input shape.
    """
    try:
        shape, in_shape = encoder.output_shape, encoder.input_shape
    except (AttributeError, ValueError):
        kind = type(encoder).__name__
        if isinstance(encoder, keras.Sequential):
            how = (
                "Give it an input shape: start it with `keras.Input`, as in "
                "`keras.Sequential([keras.Input(shape=(height, width, "
                "channels)), ...])`, or build it with "
                "`encoder.build((None, height, width, channels))`"
            )
        else:
            how = (
                "Build it as a functional model (`inputs = keras.Input(shape="
                "(height, width, channels))`, `keras.Model(inputs, outputs)`), "
                "e.g. with keras_ssl.encoders.conv_encoder; a subclassed "
                "model can be wrapped: `keras.Model(inputs, encoder(inputs))`"
            )
        raise ValueError(
            "The encoder must be a keras.Model with known input and output "
            f"shapes. Received: encoder of type {kind} with no input shape "
            f"yet. {how}."
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
class TwoViewModel(SSLModel):
    """Base of the methods that compare two augmented views of each image.

    Each step draws two random views on-graph (`augmenter`, called twice),
    encodes both in one pass and projects them with an MLP head; a subclass
    implements `pair_objective(z_1, z_2, training)` and returns
    `(loss_sum, count, outputs)` like `SSLModel.compute_objective`.

    Args:
        encoder: `keras.Model` from images in `[0, 1]` to `(batch, dim)`.
        projection_dim: output size of the projection head.
        projection_hidden_dims: hidden sizes of the projection head.
        projection_batch_norm: whether the hidden layers of the projection
            head use batch normalization (`Dense → BatchNorm → ReLU`, the
            default) or not (`Dense → ReLU`, with biases).
        augmenter: layer making one view per call (`training=True`);
            defaults to `ViewAugmenter` at the encoder's input size.
        seed: seed of the default augmenter.
        collapse_metrics: also report the collapse diagnostics
            `embedding_std` (about `1/sqrt(projection_dim)` when healthy, 0
            when collapsed) and `effective_rank` (up to `projection_dim`) of
            the first view's projections, accumulated over each epoch. Off
            by default: the rank costs an eigendecomposition per step.
    """

    def __init__(
        self,
        encoder,
        projection_dim=64,
        projection_hidden_dims=(256,),
        augmenter=None,
        seed=None,
        collapse_metrics=False,
        projection_batch_norm=True,
        **kwargs,
    ):
        super().__init__(encoder, **kwargs)
        check_vector_encoder(encoder)
        if not isinstance(projection_batch_norm, bool):
            raise ValueError(
                "Argument `projection_batch_norm` must be True or False. "
                f"Received: projection_batch_norm={projection_batch_norm!r}"
            )
        if not isinstance(collapse_metrics, bool):
            raise ValueError(
                "Argument `collapse_metrics` must be True or False. "
                f"Received: collapse_metrics={collapse_metrics!r}"
            )
        self.collapse_metrics = collapse_metrics
        if collapse_metrics:
            self.diagnostics = [
                EmbeddingStd(dim=projection_dim),
                EffectiveRank(dim=projection_dim),
            ]
        self.projection_dim = projection_dim
        self.projection_hidden_dims = tuple(projection_hidden_dims)
        self.projection_batch_norm = projection_batch_norm
        self.seed = seed
        if augmenter is None:
            augmenter = ViewAugmenter(
                tuple(encoder.input_shape[1:3]),
                channels=encoder.input_shape[-1],
                seed=seed,
            )
        self.augmenter = augmenter
        self.projection_head = ProjectionHead(
            projection_dim,
            projection_hidden_dims,
            batch_norm=projection_batch_norm,
            name="projection_head",
        )
        self.projection_head.build(encoder.output_shape)

    def call(self, images, training=False):
        return self.encoder(prepare_images(images), training=training)

    def make_views(self, images):
        """Two random views of a batch (random at evaluation time too)."""
        images = prepare_images(images)
        return (
            self.augmenter(images, training=True),
            self.augmenter(images, training=True),
        )

    def project_views(self, view_1, view_2, training=False):
        """Encodes and projects both views in one pass; returns `(z_1, z_2)`."""
        batch = ops.shape(view_1)[0]
        features = self.encoder(
            ops.concatenate([view_1, view_2], axis=0), training=training
        )
        z = self.projection_head(features, training=training)
        return z[:batch], z[batch:]

    def compute_objective(self, images, training=False):
        view_1, view_2 = self.make_views(images)
        z_1, z_2 = self.project_views(view_1, view_2, training=training)
        loss_sum, count, outputs = self.pair_objective(z_1, z_2, training=training)
        return loss_sum, count, self.with_diagnostics(outputs, z_1)

    def with_diagnostics(self, outputs, z):
        """Adds the projections `z` for the collapse metrics, when on."""
        if self.collapse_metrics:
            return {**outputs, "collapse_embeddings": z}
        return outputs

    def pair_objective(self, z_1, z_2, training=False):
        raise NotImplementedError(
            f"{type(self).__name__} must implement pair_objective()."
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            projection_dim=self.projection_dim,
            projection_hidden_dims=self.projection_hidden_dims,
            projection_batch_norm=self.projection_batch_norm,
            augmenter=keras.saving.serialize_keras_object(self.augmenter),
            seed=self.seed,
            collapse_metrics=self.collapse_metrics,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)
        config["augmenter"] = keras.saving.deserialize_keras_object(config["augmenter"])
        return super().from_config(config)
