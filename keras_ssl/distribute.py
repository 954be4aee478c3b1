"""Strategy selection and the XLA policy."""

import logging

import tensorflow as tf

logger = logging.getLogger("keras_ssl")

STRATEGIES = ("auto", "one_device", "mirrored")


def get_strategy(name="auto"):
    """Returns a `tf.distribute` strategy.

    Args:
        name: `"auto"` (mirrored over all GPUs when there are several, else
            the default strategy), `"one_device"`, or `"mirrored"`.
    """
    if name not in STRATEGIES:
        raise ValueError(
            f"Unknown strategy. Received: strategy={name!r}. "
            f"Expected one of {list(STRATEGIES)}"
        )
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def resolve_jit_compile(strategy=None, requested="auto"):
    """Decides whether `fit` should use XLA, logging the reason when not.

    XLA is turned off for multi-replica strategies on (logical) CPU devices,
    where it fails to access resources across devices.
    """
    strategy = strategy or tf.distribute.get_strategy()
    if requested is False:
        return False
    replicas = strategy.num_replicas_in_sync
    if replicas > 1 and not tf.config.list_logical_devices("GPU"):
        logger.warning(
            "XLA disabled: %d replicas on CPU devices (jit_compile fails to "
            "access resources across logical CPU devices).",
            replicas,
        )
        return False
    return requested
