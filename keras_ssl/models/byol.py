"""BYOL: bootstrap your own latent, with an EMA target network."""

import keras
from keras import ops

from keras_ssl.layers.projection_head import ProjectionHead
from keras_ssl.losses.negative_cosine_similarity import negative_cosine_similarity
from keras_ssl.models.momentum_target import (
    check_momentum,
    ema_update,
    make_target,
    momentum_at,
    weight_pairs,
)
from keras_ssl.models.two_view_model import TwoViewModel


@keras.saving.register_keras_serializable(package="keras_ssl")
class BYOL(TwoViewModel):
    """BYOL: an online network predicts a slow-moving target network.

    The target encoder and projector are copies of the online ones, never
    trained by gradients: after every optimizer step (`after_train_step`)
    they move toward the online weights with momentum
    `tau = 1 - (1 - base_momentum) * (cos(pi * k / total_steps) + 1) / 2`
    (constant `base_momentum` when `total_steps` is `None`). The loss is the
    symmetric `2 - 2 cos(p_online, z_target)`.

    Args:
        encoder: `keras.Model` from images in `[0, 1]` to `(batch, dim)`.
        projection_dim: output size of the projector.
        projection_hidden_dims: hidden sizes of the projector.
        predictor_hidden_dim: hidden width of the predictor.
        base_momentum: starting EMA momentum in `[0, 1)`.
        total_steps: steps over which the momentum rises to 1.
        augmenter: view augmenter (default `ViewAugmenter`).
        seed: augmenter seed.

    Reference:
        [Grill et al., 2020](https://arxiv.org/abs/2006.07733)
    """

    def __init__(
        self,
        encoder,
        projection_dim=128,
        projection_hidden_dims=(256,),
        predictor_hidden_dim=256,
        base_momentum=0.99,
        total_steps=None,
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
        self.base_momentum = check_momentum(base_momentum)
        self.predictor_hidden_dim = predictor_hidden_dim
        self.total_steps = total_steps
        self.predictor = ProjectionHead(
            projection_dim, (predictor_hidden_dim,), name="predictor"
        )
        self.predictor.build((None, projection_dim))
        self.target_encoder, self.target_head = make_target(
            encoder, self.projection_head
        )
        self.build()

    def _target_pairs(self):
        return weight_pairs(
            (self.target_encoder, self.target_head),
            (self.encoder, self.projection_head),
        )

    def momentum(self):
        """The EMA momentum at the current optimizer step."""
        return momentum_at(
            self.base_momentum, self.optimizer.iterations, self.total_steps
        )

    def after_train_step(self):
        ema_update(self._target_pairs(), self.momentum())

    def compute_objective(self, images, training=False):
        view_1, view_2 = self.make_views(images)
        z_1, z_2 = self.project_views(view_1, view_2, training=training)
        p_1 = self.predictor(z_1, training=training)
        p_2 = self.predictor(z_2, training=training)
        batch = ops.shape(view_1)[0]
        target = self.target_head(
            self.target_encoder(
                ops.concatenate([view_1, view_2], axis=0), training=training
            ),
            training=training,
        )
        t_1, t_2 = target[:batch], target[batch:]
        # 2 - 2 cos = normalized MSE; the target side carries no gradient.
        per_example = (2.0 + 2.0 * negative_cosine_similarity(p_1, t_2)) + (
            2.0 + 2.0 * negative_cosine_similarity(p_2, t_1)
        )
        return ops.sum(per_example), batch, self.with_diagnostics({}, z_1)

    def get_config(self):
        config = super().get_config()
        config.update(
            predictor_hidden_dim=self.predictor_hidden_dim,
            base_momentum=self.base_momentum,
            total_steps=self.total_steps,
        )
        return config
