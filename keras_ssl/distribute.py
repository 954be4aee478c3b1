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

    - Multi-replica strategies on (logical) CPU devices: off, XLA fails to
      access resources across devices there.
    - `"auto"` without a GPU: off, as Keras itself decides. Measured on the
      2-core CPU machines this project is built on (TF 2.21), XLA made the
      MLM train step 5.9x slower (0.73 vs 4.3 steps/s, hidden 128, length
      32, batch 128).
    - `"auto"` with a GPU: on.
    """
    if requested not in ("auto", True, False):
        raise ValueError(
            "Argument `jit_compile` must be 'auto', True or False. "
            f"Received: jit_compile={requested!r}"
        )
    if requested is False:
        return False
    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    has_gpu = bool(tf.config.list_logical_devices("GPU"))
    if replicas > 1 and not has_gpu:
        logger.warning(
            "XLA disabled: %d replicas on CPU devices (jit_compile fails to "
            "access resources across logical CPU devices).",
            replicas,
        )
        return False
    if requested == "auto" and not has_gpu:
        logger.info("XLA off: no GPU, and XLA is slower on CPU here.")
        return False
    return True
