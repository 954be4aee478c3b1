"""Training callbacks."""

from keras_ssl.callbacks.gradual_unfreezing import GradualUnfreezing
from keras_ssl.callbacks.learning_rate_logger import LearningRateLogger
from keras_ssl.callbacks.time_budget import TimeBudget

__all__ = ["GradualUnfreezing", "LearningRateLogger", "TimeBudget"]
