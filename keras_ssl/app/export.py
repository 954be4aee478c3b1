"""Export workflow: an SSL model or a classifier → `saved_models/<name>/<version>/`."""

import numbers
import os

from keras_ssl.app.evaluate import load_keras_file, load_ssl_model
from keras_ssl.encoders import save_to_preset
from keras_ssl.evaluation import TaskClassifier
from keras_ssl.export import (
    export_classifier,
    export_image_encoder,
    export_text_encoder,
    versioned_export,
)
from keras_ssl.export._checks import check_path_name, check_writable_dir
from keras_ssl.models import SSLModel
from keras_ssl.tokenizers import TextPreprocessor


def _load(model):
    """An `SSLModel` or a `TaskClassifier`, from an object or a `.keras` path."""
    if isinstance(model, str | os.PathLike):
        # Safe mode stays on: no arbitrary code runs on load.
        model = load_keras_file(
            model,
            "a .keras file written by `keras-ssl pretrain` (model.keras) or "
            "`keras-ssl finetune` (classifier.keras)",
        )
    if isinstance(model, TaskClassifier | SSLModel):
        return model
    return load_ssl_model(model)  # raises its one-line error


def _check_target(name, base_dir, version):
    """Checks where the export goes before the model is loaded."""
    check_path_name(name, "name")
    if not (version == "auto" and isinstance(version, str)) and (
        isinstance(version, bool)
        or not isinstance(version, numbers.Integral)
        or version < 1
    ):
        raise ValueError(
            "Argument `version` must be a positive int or 'auto' (the next "
            f"free version). Received: version={version!r}"
        )
    base_dir = check_writable_dir(base_dir, "base_dir")
    if not isinstance(version, str):
        existing = os.path.join(base_dir, name, str(int(version)))
        if os.path.lexists(existing):
            raise FileExistsError(
                f"Version {version} of {name!r} already exists at {existing!r}; "
                f"exports never overwrite a version. Received: version={version!r}. "
                "Expected version='auto' (the CLI's default) or a new version "
                "number."
            )


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
        name: export name (letters, digits, `_.-`; one folder name, no
            path separators or `..`).
        base_dir: TF Serving model base folder.
        version: positive int, or `"auto"` for the next free version. An
            existing version is never overwritten.

    Returns:
        The path of the new version folder.

    Raises:
        ValueError: on an invalid name, version or model, or an unwritable
            `base_dir` (checked before the model is loaded).
        FileExistsError: if the version already exists.
    """
    _check_target(name, base_dir, version)
    model = _load(model)
    if isinstance(model, TaskClassifier):
        return versioned_export(
            export_classifier, base_dir, name, version, classifier=model
        )
    # Includes `PresetTextPreprocessor` (keras-hub tokenizers), a subclass.
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


def save_preset(model, path):
    """Saves an SSL model's encoder as a keras-hub preset folder.

    The encoder must wrap a keras-hub backbone (`pretrain(encoder=...)`
    with a keras-hub name or preset); text models add their tokenizer,
    image encoders their image converter. The folder loads in plain
    keras-hub: `keras_hub.models.Backbone.from_preset(path)`,
    `keras_hub.models.Tokenizer.from_preset(path)`.

    Args:
        model: SSL model or the path of its `.keras` file.
        path: the preset folder to create (must not exist or be empty).

    Returns:
        `path`.
    """
    model = load_ssl_model(model)
    save_to_preset(
        model.encoder, path, preprocessor=getattr(model, "preprocessor", None)
    )
    return os.fspath(path)
