"""SavedModel export in the TensorFlow Serving layout.

`export_image_encoder`, `export_text_encoder` and `export_classifier` (a
fine-tuned task model: probabilities and label) write a SavedModel with a
`serving_default` signature on raw inputs (uint8 images, raw strings) and a
second one on prepared tensors (float images, token ids);
`versioned_export` places either under `base_dir/name/version/` without
ever overwriting a version.
"""

from keras_ssl.export.export_classifier import export_classifier
from keras_ssl.export.export_image_encoder import export_image_encoder
from keras_ssl.export.export_text_encoder import export_text_encoder
from keras_ssl.export.versioned_export import versioned_export

__all__ = [
    "export_classifier",
    "export_image_encoder",
    "export_text_encoder",
    "versioned_export",
]
