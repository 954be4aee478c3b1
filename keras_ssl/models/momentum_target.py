"""Momentum (EMA) target networks shared by BYOL and MoCo."""

import math

import keras
from keras import ops

from keras_ssl.cross_replica import assign_on_every_replica
from keras_ssl.layers.projection_head import ProjectionHead


def check_momentum(base_momentum):
    if (
        isinstance(base_momentum, bool)
        or not isinstance(base_momentum, int | float)
        or not 0 <= base_momentum < 1
    ):
        raise ValueError(
            "Argument `base_momentum` must be in [0, 1). "
            f"Received: base_momentum={base_momentum!r}"
        )
    return float(base_momentum)


def make_target(encoder, head):
    """Non-trainable copies of `encoder` and a `ProjectionHead`, same weights."""
    target_encoder = keras.models.clone_model(encoder)
    target_encoder.trainable = False
    target_head = ProjectionHead.from_config(
        {**head.get_config(), "name": f"target_{head.name}"}
    )
    target_head.build(encoder.output_shape)
    target_head.trainable = False
    for target, online in weight_pairs((target_encoder, target_head), (encoder, head)):
        target.assign(online)
    return target_encoder, target_head


def weight_pairs(targets, onlines):
    """`(target_weight, online_weight)` pairs of matching networks, in order."""
    target_weights = [w for net in targets for w in net.weights]
    online_weights = [w for net in onlines for w in net.weights]
    return list(zip(target_weights, online_weights))


def momentum_at(base_momentum, step, total_steps):
    """`1 - (1 - base) * (cos(pi * step / total) + 1) / 2`; `base` if no total."""
    if not total_steps:
        return ops.convert_to_tensor(base_momentum, "float32")
    progress = ops.minimum(ops.cast(step, "float32") / float(total_steps), 1.0)
    return 1.0 - (1.0 - base_momentum) * (ops.cos(math.pi * progress) + 1.0) / 2.0


def ema_update(pairs, momentum):
    """`target <- momentum * target + (1 - momentum) * online` for each pair."""
    updates = []
    for target, online in pairs:
        tau = ops.cast(momentum, target.dtype)
        online = ops.cast(online, target.dtype)
        updates.append((target, tau * target + (1.0 - tau) * online))
    # Every replica computes the same new values from the synchronized
    # online weights.
    assign_on_every_replica(updates)
