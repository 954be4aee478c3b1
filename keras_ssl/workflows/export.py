"""Export workflow: an SSL model → `saved_models/<name>/<version>/`."""

from keras_ssl.export import export_image_encoder, export_text_encoder, versioned_export
from keras_ssl.tokenizers import TextPreprocessor
from keras_ssl.workflows.evaluate import load_ssl_model


def export(model, name, base_dir="saved_models", version="auto"):
    """Exports the encoder of an SSL model as a versioned SavedModel.

    Image models get `serving_default` on uint8 images and `embed_prepared`
    on float images in `[0, 1]`; text models get `serving_default` on raw
    strings (tokenizer in the graph; load with `import tensorflow_text`) and
    `embed_token_ids` on token ids.

    Args:
        model: SSL model or path to its `.keras` file.
        name: export name (letters, digits, `_.-`).
        base_dir: TF Serving model base folder.
        version: positive int, or `"auto"` for the next free version.

    Returns:
        The path of the new version folder.
    """
    model = load_ssl_model(model)
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
