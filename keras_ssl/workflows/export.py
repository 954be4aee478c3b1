"""Export workflow: an SSL model or a classifier → `saved_models/<name>/<version>/`."""

import os

import keras

from keras_ssl.evaluation import TaskClassifier
from keras_ssl.export import (
    export_classifier,
    export_image_encoder,
    export_text_encoder,
    versioned_export,
)
from keras_ssl.models import SSLModel
from keras_ssl.tokenizers import TextPreprocessor
from keras_ssl.workflows.evaluate import load_ssl_model


def _load(model):
    """An `SSLModel` or a `TaskClassifier`, from an object or a `.keras` path."""
    if isinstance(model, str | os.PathLike):
        path = os.fspath(model)
        if not os.path.isfile(path) or not path.endswith(".keras"):
            raise ValueError(
                "Argument `model` must be a path to a .keras file written by "
                "`keras-ssl pretrain` (model.keras) or `keras-ssl finetune` "
                f"(classifier.keras). Received: model={path!r}"
            )
        # Safe mode stays on: no arbitrary code runs on load.
        model = keras.saving.load_model(path)
    if isinstance(model, TaskClassifier | SSLModel):
        return model
    return load_ssl_model(model)  # raises its one-line error


def export(model, name, base_dir="saved_models", version="auto"):
    """Exports an SSL model's encoder, or a fine-tuned classifier, as a SavedModel.

    SSL models: image models get `serving_default` on uint8 images and
    `embed_prepared` on float images in `[0, 1]`; text models get
    `serving_default` on raw strings (tokenizer in the graph; load with
    `import tensorflow_text`) and `embed_token_ids` on token ids; both
    return `embedding`.

    Fine-tuned classifiers (`TaskClassifier`, the `classifier.keras` of
    `keras-ssl finetune`): the same inputs, with `classify_prepared` /
    `classify_token_ids` as the second signature, returning
    `probabilities`, `label` and, when the classifier knows its class names,
    `label_name` (see `keras_ssl.export.export_classifier`).

    Args:
        model: SSL model or `TaskClassifier`, or the path to its `.keras`
            file.
        name: export name (letters, digits, `_.-`).
        base_dir: TF Serving model base folder.
        version: positive int, or `"auto"` for the next free version.

    Returns:
        The path of the new version folder.
    """
    model = _load(model)
    if isinstance(model, TaskClassifier):
        return versioned_export(
            export_classifier, base_dir, name, version, classifier=model
        )
    if isinstance(getattr(model, "preprocessor", None), TextPreprocessor):
        return versioned_export(
            export_text_encoder,
            base_dir,
            name,
            version,
            model_or_encoder=model,
        )
    return versioned_export(
        export_image_encoder, base_dir, name, version, encoder=model.encoder
    )
