"""BYOL: bootstrap your own latent, with an EMA target network."""

import math

import keras
import tensorflow as tf
from keras import ops

from keras_ssl.layers.projection_head import ProjectionHead
from keras_ssl.losses.negative_cosine_similarity import negative_cosine_similarity
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
        if not isinstance(base_momentum, int | float) or not 0 <= base_momentum < 1:
            raise ValueError(
                "Argument `base_momentum` must be in [0, 1). "
                f"Received: base_momentum={base_momentum!r}"
            )
        if tf.distribute.get_strategy().num_replicas_in_sync > 1:
            raise ValueError(
                "BYOL does not support multi-replica strategies yet (the EMA "
                "target update needs cross-replica assignment). Received: "
                f"{tf.distribute.get_strategy().num_replicas_in_sync} replicas"
            )
        self.predictor_hidden_dim = predictor_hidden_dim
        self.base_momentum = float(base_momentum)
        self.total_steps = total_steps
        self.predictor = ProjectionHead(
            projection_dim, (predictor_hidden_dim,), name="predictor"
        )
        self.predictor.build((None, projection_dim))
        self.target_encoder = keras.models.clone_model(encoder)
        self.target_encoder.trainable = False
        self.target_head = ProjectionHead(
            projection_dim, projection_hidden_dims, name="target_projection_head"
        )
        self.target_head.build(encoder.output_shape)
        self.target_head.trainable = False
        for target, online in self._target_pairs():
            target.assign(online)
        self.build()

    def _target_pairs(self):
        return list(
            zip(
                self.target_encoder.weights + self.target_head.weights,
                self.encoder.weights + self.projection_head.weights,
            )
        )

    def momentum(self):
        """The EMA momentum at the current optimizer step."""
        if not self.total_steps:
            return ops.convert_to_tensor(self.base_momentum)
        k = ops.cast(self.optimizer.iterations, "float32")
        progress = ops.minimum(k / float(self.total_steps), 1.0)
        return (
            1.0 - (1.0 - self.base_momentum) * (ops.cos(math.pi * progress) + 1.0) / 2.0
        )

    def after_train_step(self):
        tau = self.momentum()
        for target, online in self._target_pairs():
            target.assign(
                ops.cast(tau, target.dtype) * target
                + ops.cast(1.0 - tau, target.dtype) * ops.cast(online, target.dtype)
            )

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
        return ops.sum(per_example), batch, {}

    def get_config(self):
        config = super().get_config()
        config.update(
            predictor_hidden_dim=self.predictor_hidden_dim,
            base_momentum=self.base_momentum,
            total_steps=self.total_steps,
        )
        return config
