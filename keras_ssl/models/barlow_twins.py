"""Barlow Twins: redundancy reduction between two views."""

import keras
from keras import ops

from keras_ssl.cross_replica import gather_from_replicas
from keras_ssl.losses.barlow_twins import barlow_twins
from keras_ssl.models.two_view_model import TwoViewModel


@keras.saving.register_keras_serializable(package="keras_ssl")
class BarlowTwins(TwoViewModel):
    """Barlow Twins: push the views' cross-correlation matrix to identity.

    The loss is computed on the whole global batch (projections are gathered
    across replicas), because it depends on batch statistics.

    Args:
        encoder: `keras.Model` from images in `[0, 1]` to `(batch, dim)`.
        projection_dim: output size of the projector (the paper uses a wide
            one; 256-1024 for small encoders).
        projection_hidden_dims: hidden sizes of the projector.
        lambda_: weight of the off-diagonal (redundancy) term.
        augmenter: view augmenter (default `ViewAugmenter`).
        seed: augmenter seed.

    Reference:
        [Zbontar et al., 2021](https://arxiv.org/abs/2103.03230)
    """

    def __init__(
        self,
        encoder,
        projection_dim=512,
        projection_hidden_dims=(512,),
        lambda_=5e-3,
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
        self.lambda_ = float(lambda_)
        barlow_twins(ops.ones((2, 2)), ops.ones((2, 2)), self.lambda_)  # validate
        self.build()

    def pair_objective(self, z_1, z_2, training=False):
        all_1, _ = gather_from_replicas(z_1)
        all_2, _ = gather_from_replicas(z_2)
        loss = ops.mean(barlow_twins(all_1, all_2, self.lambda_))
        batch = ops.cast(ops.shape(z_1)[0], "float32")
        return loss * batch, batch, {}

    def get_config(self):
        config = super().get_config()
        config["lambda_"] = self.lambda_
        return config
