"""The application: workflows that write run directories, the CLI, the demo.

The library (`keras_ssl.models`, `keras_ssl.losses`, ...) never imports this
package; the workflows here compose it: pretrain, evaluate, finetune, tune,
export.
"""

from keras_ssl.app.evaluate import (
    evaluate_images,
    evaluate_text,
    fine_tune_images,
    load_ssl_model,
)
from keras_ssl.app.export import export
from keras_ssl.app.finetune import finetune
from keras_ssl.app.pretrain import METHODS, pretrain
from keras_ssl.app.resume import fit_resumable
from keras_ssl.app.tune import tune
from keras_ssl.app.tune_pretraining import tune_pretraining

__all__ = [
    "METHODS",
    "evaluate_images",
    "evaluate_text",
    "export",
    "fine_tune_images",
    "fit_resumable",
    "finetune",
    "load_ssl_model",
    "pretrain",
    "tune",
    "tune_pretraining",
]
