"""keras-tuner search over fine-tuning (and label-free pretraining) hyperparameters.

Needs the `tuner` extra: `pip install keras-ssl[tuner]` (keras-tuner).
"""

try:
    import keras_tuner  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "keras_ssl.tuning needs keras-tuner. Install it with "
        "`pip install keras-ssl[tuner]` (or `pip install keras-tuner`)."
    ) from e

from keras_ssl.tuning.fine_tune_hyper_model import (
    HYPERPARAMETER_NAMES,
    FineTuneHyperModel,
    count_blocks,
)
from keras_ssl.tuning.pretrain_hyper_model import (
    PRETRAIN_METHODS,
    PRETRAIN_OBJECTIVES,
    PretrainHyperModel,
)
from keras_ssl.tuning.search import (
    TUNERS,
    check_tuner_name,
    make_tuner,
    trial_results,
)

__all__ = [
    "HYPERPARAMETER_NAMES",
    "PRETRAIN_METHODS",
    "PRETRAIN_OBJECTIVES",
    "PretrainHyperModel",
    "TUNERS",
    "check_tuner_name",
    "FineTuneHyperModel",
    "count_blocks",
    "make_tuner",
    "trial_results",
]
