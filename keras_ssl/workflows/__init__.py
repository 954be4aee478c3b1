"""Workflows the CLI and examples call: pretrain, evaluate, export, demo."""

from keras_ssl.workflows.evaluate import (
    evaluate_images,
    evaluate_text,
    fine_tune_images,
    load_ssl_model,
)
from keras_ssl.workflows.export import export
from keras_ssl.workflows.pretrain import METHODS, pretrain

__all__ = [
    "METHODS",
    "evaluate_images",
    "evaluate_text",
    "export",
    "fine_tune_images",
    "load_ssl_model",
    "pretrain",
]
