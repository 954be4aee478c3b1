"""MoCo: momentum contrast with a queue of negatives."""

import keras
from keras import ops

from keras_ssl.checks import check_positive
from keras_ssl.cross_replica import gather_from_replicas
from keras_ssl.layers.memory_bank import MemoryBank
from keras_ssl.losses.info_nce import info_nce
from keras_ssl.models.momentum_target import (
    check_momentum,
    ema_update,
    make_target,
    momentum_at,
    weight_pairs,
)
from keras_ssl.models.two_view_model import TwoViewModel


def _others(gathered, offset, batch):
    """The rows of `gathered` that other replicas contributed."""
    return ops.concatenate([gathered[:offset], gathered[offset + batch :]], axis=0)


@keras.saving.register_keras_serializable(package="keras_ssl")
class MoCo(TwoViewModel):
    """MoCo (v2-style): queries against momentum-encoded keys and a queue.

    The query network (encoder + projector) is trained; the key network is an
    EMA copy of it. Each view's query must find the other view's key among
    the batch's keys and the `queue_size` keys of earlier batches kept in a
    `MemoryBank` (symmetrised over the two views). The batch's keys are then
    enqueued. The queue is model state, saved with the model. Under a
    `tf.distribute` strategy the keys of every replica are gathered: they
    are negatives for every query, and the global batch's keys are
    enqueued, as on one device.

    Metrics: `loss`, `contrastive_accuracy`.

    Args:
        encoder: `keras.Model` from images in `[0, 1]` to `(batch, dim)`.
        projection_dim: output size of the projector.
        projection_hidden_dims: hidden sizes of the projector.
        queue_size: number of negatives kept from earlier batches.
        temperature: InfoNCE temperature, > 0.
        base_momentum: EMA momentum of the key network, in `[0, 1)`.
        total_steps: steps over which the momentum rises to 1 (cosine);
            `None` keeps it constant.
        augmenter: view augmenter (default `ViewAugmenter`).
        seed: augmenter and queue seed.

    Reference:
        [He et al., 2020](https://arxiv.org/abs/1911.05722),
        [Chen et al., 2020 (v2)](https://arxiv.org/abs/2003.04297)
    """

    def __init__(
        self,
        encoder,
        projection_dim=64,
        projection_hidden_dims=(256,),
        queue_size=4096,
        temperature=0.1,
        base_momentum=0.99,
        total_steps=None,
        augmenter=None,
        seed=None,
        **kwargs,
    ):
        check_positive("temperature", temperature)
        super().__init__(
            encoder,
            projection_dim=projection_dim,
            projection_hidden_dims=projection_hidden_dims,
            augmenter=augmenter,
            seed=seed,
            **kwargs,
        )
        self.base_momentum = check_momentum(base_momentum)
        self.temperature = float(temperature)
        self.total_steps = total_steps
        self.queue_size = queue_size
        self.memory_bank = MemoryBank(queue_size, projection_dim, seed=seed)
        self.key_encoder, self.key_head = make_target(encoder, self.projection_head)
        self.contrastive_accuracy = keras.metrics.Mean(name="contrastive_accuracy")
        self.build()

    def _target_pairs(self):
        return weight_pairs(
            (self.key_encoder, self.key_head), (self.encoder, self.projection_head)
        )

    def after_train_step(self):
        tau = momentum_at(
            self.base_momentum, self.optimizer.iterations, self.total_steps
        )
        ema_update(self._target_pairs(), tau)

    def compute_objective(self, images, training=False):
        view_1, view_2 = self.make_views(images)
        q_1, q_2 = self.project_views(view_1, view_2, training=training)
        batch = ops.shape(view_1)[0]
        keys = self.key_head(
            self.key_encoder(
                ops.concatenate([view_1, view_2], axis=0), training=training
            ),
            training=training,
        )
        keys = ops.stop_gradient(keys)
        k_1, k_2 = keys[:batch], keys[batch:]
        # Under a strategy, the other replicas' keys are negatives too (as
        # one device sees the whole global batch), and every replica
        # enqueues the global batch's keys.
        all_1, offset = gather_from_replicas(k_1)
        all_2, _ = gather_from_replicas(k_2)
        queue = self.memory_bank.queue()
        negatives_1 = ops.concatenate([_others(all_1, offset, batch), queue], axis=0)
        negatives_2 = ops.concatenate([_others(all_2, offset, batch), queue], axis=0)
        per_query = info_nce(q_1, k_2, negatives_2, self.temperature) + info_nce(
            q_2, k_1, negatives_1, self.temperature
        )
        # Accuracy: the positive key beats every in-batch and queued key.
        q = ops.normalize(q_1, axis=-1)
        candidates = ops.normalize(ops.concatenate([k_2, negatives_2], axis=0), -1)
        best = ops.cast(
            ops.argmax(ops.matmul(q, ops.transpose(candidates)), -1), "int32"
        )
        correct = ops.cast(best == ops.arange(batch, dtype="int32"), "float32")
        if training:
            self.memory_bank.enqueue(ops.concatenate([all_1, all_2], axis=0))
        outputs = self.with_diagnostics({"correct": correct}, q_1)
        return 0.5 * ops.sum(per_query), batch, outputs

    def method_metrics(self):
        return [self.contrastive_accuracy]

    def update_method_metrics(self, outputs):
        self.contrastive_accuracy.update_state(outputs["correct"])

    def get_config(self):
        config = super().get_config()
        config.update(
            queue_size=self.queue_size,
            temperature=self.temperature,
            base_momentum=self.base_momentum,
            total_steps=self.total_steps,
        )
        return config
