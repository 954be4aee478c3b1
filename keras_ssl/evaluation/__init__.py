"""Frozen-encoder evaluation protocols and raw-input baselines."""

from keras_ssl.evaluation.embed import embed, embed_labelled, split_stream
from keras_ssl.evaluation.fine_tune import build_classifier, fine_tune
from keras_ssl.evaluation.fine_tune_settings import FineTuneSettings
from keras_ssl.evaluation.format_results_table import format_results_table
from keras_ssl.evaluation.gradual_unfreezing import GradualUnfreezing
from keras_ssl.evaluation.knn_evaluate import knn_evaluate
from keras_ssl.evaluation.linear_probe import linear_probe
from keras_ssl.evaluation.pixel_logistic_regression import (
    pixel_logistic_regression,
)
from keras_ssl.evaluation.task_classifier import TaskClassifier
from keras_ssl.evaluation.tfidf_logistic_regression import (
    tfidf_logistic_regression,
)

__all__ = [
    "FineTuneSettings",
    "GradualUnfreezing",
    "TaskClassifier",
    "build_classifier",
    "fine_tune",
    "embed",
    "embed_labelled",
    "format_results_table",
    "knn_evaluate",
    "linear_probe",
    "pixel_logistic_regression",
    "split_stream",
    "tfidf_logistic_regression",
]
