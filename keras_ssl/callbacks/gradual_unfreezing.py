"""Gradual unfreezing (moved to `keras_ssl.evaluation.gradual_unfreezing`).

This module re-exports it, so `keras_ssl.callbacks.GradualUnfreezing` and
imports from `keras_ssl.callbacks.gradual_unfreezing` keep working.
"""

from keras_ssl.evaluation.gradual_unfreezing import (  # noqa: F401
    GradualUnfreezing,
    encoder_blocks,
    set_trainable_blocks,
)

__all__ = ["GradualUnfreezing", "encoder_blocks", "set_trainable_blocks"]
