"""Export a fine-tuned image or text classifier as a SavedModel."""

import keras
import tensorflow as tf

from keras_ssl.evaluation.task_classifier import check_label_names
from keras_ssl.export._checks import as_float32, check_export_dir
from keras_ssl.tokenizers.text_preprocessor import TextPreprocessor


def _num_classes(classifier):
    out_shape = getattr(classifier, "output_shape", None)
    if not isinstance(out_shape, tuple) or len(out_shape) != 2:
        raise ValueError(
            "Argument `classifier` must return class logits of shape (batch, "
            f"classes). Received: classifier.output_shape={out_shape}"
        )
    if out_shape[1] is None or out_shape[1] < 2:
        raise ValueError(
            "Argument `classifier` must have a task head with at least 2 "
            f"classes. Received: classifier.output_shape={out_shape}"
        )
    return int(out_shape[1])


def _resolve(classifier, preprocessor, label_names):
    """Unwraps a `TaskClassifier`; returns `(model, preprocessor, label_names)`."""
    inner = getattr(classifier, "classifier", None)
    if isinstance(inner, keras.Model):  # a TaskClassifier
        if preprocessor is None:
            preprocessor = getattr(classifier, "preprocessor", None)
        if label_names is None:
            label_names = getattr(classifier, "label_names", None)
        classifier = inner
    if not isinstance(classifier, keras.Model):
        raise ValueError(
            "Argument `classifier` must be a keras.Model from prepared inputs "
            "(float images in [0, 1] or token ids) to class logits, or a "
            f"TaskClassifier. Received: classifier={classifier!r} of type "
            f"{type(classifier).__name__}"
        )
    num_classes = _num_classes(classifier)
    label_names = check_label_names(label_names, num_classes, distinct=False)
    if preprocessor is not None and not isinstance(preprocessor, TextPreprocessor):
        raise ValueError(
            "Argument `preprocessor` must be None (image classifiers) or a "
            "keras_ssl TextPreprocessor (text classifiers). Received: "
            f"preprocessor of type {type(preprocessor).__name__}"
        )
    inputs = getattr(classifier, "inputs", None) or []
    in_shape = getattr(classifier, "input_shape", None)
    if len(inputs) != 1 or not isinstance(in_shape, tuple):
        raise ValueError(
            "Argument `classifier` must take one input (images or token ids). "
            f"Received: classifier.input_shape={in_shape}"
        )
    if preprocessor is not None:
        if len(in_shape) != 2 or in_shape[1] not in (
            None,
            preprocessor.sequence_length,
        ):
            raise ValueError(
                "A text classifier must take token ids of shape (batch, "
                f"{preprocessor.sequence_length}) (the preprocessor's "
                f"sequence length). Received: classifier.input_shape={in_shape}"
            )
    elif len(in_shape) != 4 or any(d is None for d in in_shape[1:]):
        message = (
            "An image classifier must take images of a fixed shape (batch, "
            f"height, width, channels). Received: classifier.input_shape={in_shape}"
        )
        if len(in_shape) == 2:
            message += ". (A text classifier needs its `preprocessor`.)"
        raise ValueError(message)
    return classifier, preprocessor, label_names


def export_classifier(classifier, export_dir, preprocessor=None, label_names=None):
    """Exports a fine-tuned classifier as a SavedModel that TF Serving loads.

    Both signatures return, computed in inference mode (`training=False`):

    - `probabilities`: `float32 (batch, classes)`, the softmax of the
      classifier's logits (each row sums to 1);
    - `label`: `int64 (batch,)`, the class with the largest probability;
    - `label_name`: `string (batch,)`, that class's name — only when
      `label_names` are known (given, or carried by a `TaskClassifier`).

    Image classifiers get:

    - `serving_default`: input `images`, `uint8 (batch, height, width,
      channels)` in `[0, 255]`, any batch size; scaled to `[0, 1]` in the
      graph, as in training.
    - `classify_prepared`: input `images`, `float32` of the same shape,
      already in `[0, 1]`.

    Text classifiers (with a `preprocessor`) get:

    - `serving_default`: input `texts`, `string (batch,)`, raw text;
      WordPiece tokenization and packing run in the graph (load with
      `import tensorflow_text` first; TF Serving needs the TF Text ops).
    - `classify_token_ids`: input `token_ids`, `int32 (batch,
      sequence_length)` made by the same preprocessor.

    The prepared-input signatures use core TensorFlow ops only (for a text
    classifier the SavedModel as a whole still needs `tensorflow_text` to
    load, because `serving_default` is in the same file). To write the
    TF Serving layout `base_dir/name/version/`, wrap the call in
    `versioned_export`.

    Args:
        classifier: `keras.Model` from prepared inputs (float images in
            `[0, 1]`, or token ids) to class logits `(batch, classes)`, such
            as `fine_tune(...)["model"]`; or a `TaskClassifier` (its
            preprocessor and class names are used unless given here).
        export_dir: path of the SavedModel directory; it must not exist yet
            or be empty (exports never overwrite files).
        preprocessor: the `TextPreprocessor` of a text classifier; `None`
            for images.
        label_names: optional class names, one per class.

    Returns:
        `export_dir`, as a `str`.

    Example (not run as a doctest: it needs a fine-tuned model, and an
    export takes seconds):

    >>> result = fine_tune(encoder, x, y, x_test, y_test)  # doctest: +SKIP
    >>> export_classifier(result["model"], "/tmp/clf",  # doctest: +SKIP
    ...                   label_names=["shirt", "shoe"])
    '/tmp/clf'
    >>> served = tf.saved_model.load("/tmp/clf")  # doctest: +SKIP
    >>> served.signatures["serving_default"](  # doctest: +SKIP
    ...     images=tf.zeros((2, 28, 28, 1), tf.uint8))["label"]
    """
    classifier, preprocessor, label_names = _resolve(
        classifier, preprocessor, label_names
    )
    export_dir = check_export_dir(export_dir)

    def classify(prepared):
        logits = as_float32(classifier(prepared, training=False))
        probabilities = tf.nn.softmax(logits, axis=-1)
        label = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        outputs = {"probabilities": probabilities, "label": label}
        if label_names is not None:  # a constant in the graph
            names = tf.constant(label_names, tf.string)
            outputs["label_name"] = tf.gather(names, label)
        return outputs

    archive = keras.export.ExportArchive()
    archive.track(classifier)
    if preprocessor is not None:
        archive.track(preprocessor)
        length = preprocessor.sequence_length

        def serving_default(texts):
            return classify(tf.cast(preprocessor(texts), tf.int32))

        archive.add_endpoint(
            "serving_default",
            serving_default,
            input_signature=[tf.TensorSpec((None,), tf.string, name="texts")],
        )
        archive.add_endpoint(
            "classify_token_ids",
            classify,
            input_signature=[tf.TensorSpec((None, length), tf.int32, name="token_ids")],
        )
    else:
        shape = (None, *classifier.input_shape[1:])

        def serving_default(images):
            return classify(tf.cast(images, tf.float32) / 255.0)

        archive.add_endpoint(
            "serving_default",
            serving_default,
            input_signature=[tf.TensorSpec(shape, tf.uint8, name="images")],
        )
        archive.add_endpoint(
            "classify_prepared",
            classify,
            input_signature=[tf.TensorSpec(shape, tf.float32, name="images")],
        )
    archive.write_out(export_dir, verbose=False)
    return export_dir
