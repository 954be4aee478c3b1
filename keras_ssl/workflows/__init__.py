"""Workflows the CLI and examples call: pretrain, evaluate, finetune, tune, export."""

from keras_ssl.workflows.evaluate import (
    evaluate_images,
    evaluate_text,
    fine_tune_images,
    load_ssl_model,
)
from keras_ssl.workflows.export import export
from keras_ssl.workflows.finetune import finetune
from keras_ssl.workflows.pretrain import METHODS, pretrain
from keras_ssl.workflows.tune import tune
from keras_ssl.workflows.tune_pretraining import tune_pretraining

__all__ = [
    "METHODS",
    "evaluate_images",
    "evaluate_text",
    "export",
    "fine_tune_images",
    "finetune",
    "load_ssl_model",
    "pretrain",
    "tune",
    "tune_pretraining",
]
