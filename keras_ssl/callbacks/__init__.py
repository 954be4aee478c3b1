"""Training callbacks."""

from keras_ssl.callbacks.collapse_guard import CollapseGuard
from keras_ssl.callbacks.gradual_unfreezing import GradualUnfreezing
from keras_ssl.callbacks.learning_rate_logger import LearningRateLogger
from keras_ssl.callbacks.non_finite_guard import NonFiniteGuard
from keras_ssl.callbacks.non_finite_loss_error import NonFiniteLossError
from keras_ssl.callbacks.time_budget import TimeBudget

__all__ = [
    "CollapseGuard",
    "NonFiniteGuard",
    "NonFiniteLossError",
    "GradualUnfreezing",
    "LearningRateLogger",
    "TimeBudget",
]

# TensorBoard monitoring (images, text, kNN, Embedding Projector).
from keras_ssl.callbacks.augmented_view_images import AugmentedViewImages  # noqa: E402
from keras_ssl.callbacks.embedding_projector import EmbeddingProjector  # noqa: E402
from keras_ssl.callbacks.generated_text import GeneratedText  # noqa: E402
from keras_ssl.callbacks.knn_monitor import KNNMonitor  # noqa: E402
from keras_ssl.callbacks.masked_token_text import MaskedTokenText  # noqa: E402
from keras_ssl.callbacks.monitoring_callbacks import monitoring_callbacks  # noqa: E402
from keras_ssl.callbacks.reconstruction_images import ReconstructionImages  # noqa: E402

__all__ += [
    "AugmentedViewImages",
    "EmbeddingProjector",
    "GeneratedText",
    "KNNMonitor",
    "MaskedTokenText",
    "ReconstructionImages",
    "monitoring_callbacks",
]

# Atomic checkpoints and exact resume.
from keras_ssl.callbacks.run_checkpoint import RunCheckpoint  # noqa: E402

__all__ += ["RunCheckpoint"]
