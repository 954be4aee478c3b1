"""VICReg: variance-invariance-covariance regularization."""

import keras
from keras import ops

from keras_ssl.cross_replica import gather_from_replicas
from keras_ssl.losses.vicreg import vicreg
from keras_ssl.models.two_view_model import TwoViewModel


@keras.saving.register_keras_serializable(package="keras_ssl")
class VICReg(TwoViewModel):
    """VICReg: invariance between views, variance and decorrelation per view.

    Computed on the whole global batch (projections gathered across
    replicas), because the variance and covariance terms are batch statistics.

    Args:
        encoder: `keras.Model` from images in `[0, 1]` to `(batch, dim)`.
        projection_dim: output size of the expander.
        projection_hidden_dims: hidden sizes of the expander.
        sim_weight: weight of the invariance (MSE) term.
        var_weight: weight of the variance hinge.
        cov_weight: weight of the covariance term.
        augmenter: view augmenter (default `ViewAugmenter`).
        seed: augmenter seed.

    Reference:
        [Bardes et al., 2022](https://arxiv.org/abs/2105.04906)
    """

    def __init__(
        self,
        encoder,
        projection_dim=512,
        projection_hidden_dims=(512,),
        sim_weight=25.0,
        var_weight=25.0,
        cov_weight=1.0,
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
        self.sim_weight = float(sim_weight)
        self.var_weight = float(var_weight)
        self.cov_weight = float(cov_weight)
        self._loss_kwargs = dict(
            sim_weight=self.sim_weight,
            var_weight=self.var_weight,
            cov_weight=self.cov_weight,
        )
        vicreg(ops.ones((2, 2)), ops.ones((2, 2)), **self._loss_kwargs)  # validate
        self.build()

    def pair_objective(self, z_1, z_2, training=False):
        all_1, _ = gather_from_replicas(z_1)
        all_2, _ = gather_from_replicas(z_2)
        loss = ops.mean(vicreg(all_1, all_2, **self._loss_kwargs))
        batch = ops.cast(ops.shape(z_1)[0], "float32")
        return loss * batch, batch, {}

    def get_config(self):
        config = super().get_config()
        config.update(
            sim_weight=self.sim_weight,
            var_weight=self.var_weight,
            cov_weight=self.cov_weight,
        )
        return config
