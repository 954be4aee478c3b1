"""SimSiam: siamese representation learning with a stop-gradient."""

import keras
from keras import ops

from keras_ssl.layers.projection_head import ProjectionHead
from keras_ssl.losses.negative_cosine_similarity import negative_cosine_similarity
from keras_ssl.models.two_view_model import TwoViewModel


@keras.saving.register_keras_serializable(package="keras_ssl")
class SimSiam(TwoViewModel):
    """SimSiam: a predictor matches each view's projection to the other's.

    `loss = (D(p_1, sg(z_2)) + D(p_2, sg(z_1))) / 2` with `D` the negative
    cosine similarity and `sg` a stop-gradient, which is what keeps the
    representation from collapsing without negatives.

    Args:
        encoder: `keras.Model` from images in `[0, 1]` to `(batch, dim)`.
        projection_dim: output size of the projector.
        projection_hidden_dims: hidden sizes of the projector.
        predictor_hidden_dim: bottleneck width of the predictor.
        augmenter: view augmenter (default `ViewAugmenter`).
        seed: augmenter seed.

    Reference:
        [Chen & He, 2021](https://arxiv.org/abs/2011.10566)
    """

    def __init__(
        self,
        encoder,
        projection_dim=256,
        projection_hidden_dims=(256,),
        predictor_hidden_dim=64,
        augmenter=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            encoder,
            projection_dim=projection_dim,
            projection_hidden_dims=projection_hidden_dims,
            augmenter=augmenter,
            seed=seed,
            **kwargs,
        )
        self.predictor_hidden_dim = predictor_hidden_dim
        self.predictor = ProjectionHead(
            projection_dim, (predictor_hidden_dim,), name="predictor"
        )
        self.predictor.build((None, projection_dim))
        self.build()

    def pair_objective(self, z_1, z_2, training=False):
        p_1 = self.predictor(z_1, training=training)
        p_2 = self.predictor(z_2, training=training)
        per_example = 0.5 * (
            negative_cosine_similarity(p_1, z_2) + negative_cosine_similarity(p_2, z_1)
        )
        return ops.sum(per_example), ops.shape(z_1)[0], {}

    def get_config(self):
        config = super().get_config()
        config["predictor_hidden_dim"] = self.predictor_hidden_dim
        return config
