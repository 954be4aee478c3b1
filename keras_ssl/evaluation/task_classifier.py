"""A fine-tuned classifier that takes raw inputs and knows its class names."""

import copy

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.tokenizers.text_preprocessor import TextPreprocessor


def _is_string(x):
    dtype = getattr(x, "dtype", None)
    if isinstance(dtype, np.dtype):
        return dtype.kind in "OUS"
    return dtype == tf.string or str(dtype) == "string"


def check_classifier(classifier, name="classifier"):
    """Returns the number of classes of a `(batch, classes)` classifier.

    Raises ValueError unless `classifier` is a `keras.Model` with one input
    and one `(batch, classes)` output, `classes >= 2`.
    """
    if not isinstance(classifier, keras.Model):
        raise ValueError(
            f"Argument `{name}` must be a keras.Model from inputs to class "
            f"logits (batch, classes), e.g. from `build_classifier`. Received: "
            f"{name}={classifier!r} of type {type(classifier).__name__}"
        )
    try:
        out_shape = classifier.output_shape
        inputs = classifier.inputs
    except (AttributeError, ValueError):
        out_shape, inputs = None, None
    if not isinstance(out_shape, tuple) or len(out_shape) != 2 or not inputs:
        raise ValueError(
            f"Argument `{name}` must be a built model with one input and one "
            f"output of shape (batch, classes). Received: output_shape={out_shape}"
        )
    if len(inputs) != 1:
        raise ValueError(
            f"Argument `{name}` must take one input. Received: {len(inputs)} inputs"
        )
    if out_shape[1] is None or out_shape[1] < 2:
        raise ValueError(
            f"Argument `{name}` must have a task head with at least 2 classes. "
            f"Received: output_shape={out_shape}"
        )
    return int(out_shape[1])


def check_label_names(label_names, num_classes, distinct=True):
    """Returns `label_names` as a list of `num_classes` strings (distinct ones
    unless `distinct=False`), or None."""
    if label_names is None:
        return None
    if isinstance(label_names, str) or not isinstance(
        label_names, list | tuple | np.ndarray
    ):
        raise ValueError(
            "Argument `label_names` must be None or a list of strings, one per "
            f"class. Received: label_names={label_names!r}"
        )
    names = list(label_names)
    if (
        len(names) != num_classes
        or not all(isinstance(n, str) for n in names)
        or (distinct and len(set(names)) != len(names))
    ):
        raise ValueError(
            f"Argument `label_names` must hold {num_classes} "
            f"{'distinct ' if distinct else ''}strings, one per class. "
            f"Received: label_names={names!r}"
        )
    return [str(n) for n in names]


@keras.saving.register_keras_serializable(package="keras_ssl")
class TaskClassifier(keras.Model):
    """A fine-tuned classifier with its preprocessing and class names.

    Wraps a classifier on prepared inputs (the model `fine_tune` returns)
    so that its `.keras` file is self-contained: a text classifier carries
    its `TextPreprocessor` (vocabulary, sequence length) and takes raw
    strings; an image classifier takes `uint8` images in `[0, 255]` (or
    float images already in `[0, 1]`). The class names travel in the
    config. `call` returns the logits of the wrapped classifier; `export`
    (`keras_ssl.export.export_classifier`) turns them into probabilities and
    labels.

    Args:
        classifier: `keras.Model` from prepared inputs (float images in
            `[0, 1]`, or `(batch, sequence_length)` token ids) to class
            logits `(batch, classes)`, `classes >= 2`.
        preprocessor: the `TextPreprocessor` of a text classifier; `None`
            for images.
        label_names: optional list of class names, one per class.
        **kwargs: passed to `keras.Model`.

    Example:

    >>> classifier = keras.Sequential(
    ...     [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    >>> task = TaskClassifier(classifier, label_names=["shirt", "shoe"])
    >>> task.predict(np.zeros((3, 28, 28, 1), "uint8"), verbose=0).shape  # logits
    (3, 2)

    A text classifier carries its preprocessor and takes raw strings (not
    run here: it needs a fine-tuned text model):

    >>> result = fine_tune(model.encoder, ids, y, ids_test, y_test)  # doctest: +SKIP
    >>> task = TaskClassifier(result["model"], model.preprocessor,  # doctest: +SKIP
    ...                       label_names=["noun.animal", "noun.plant"])
    >>> task.predict(np.array(["a small cat"], dtype=object))  # doctest: +SKIP
    >>> task.save("classifier.keras")  # doctest: +SKIP
    """

    def __init__(self, classifier, preprocessor=None, label_names=None, **kwargs):
        super().__init__(**kwargs)
        num_classes = check_classifier(classifier)
        if preprocessor is not None and not isinstance(preprocessor, TextPreprocessor):
            raise ValueError(
                "Argument `preprocessor` must be None (images) or a keras_ssl "
                "TextPreprocessor (text). Received: preprocessor of type "
                f"{type(preprocessor).__name__}"
            )
        in_shape = classifier.input_shape
        if preprocessor is not None and (
            len(in_shape) != 2
            or in_shape[1] not in (None, preprocessor.sequence_length)
        ):
            raise ValueError(
                "A text classifier must take token ids of shape (batch, "
                f"{preprocessor.sequence_length}) (the preprocessor's sequence "
                f"length). Received: classifier.input_shape={in_shape}"
            )
        self.classifier = classifier
        self.preprocessor = preprocessor
        self.label_names = check_label_names(label_names, num_classes)
        self.num_classes = num_classes
        self.built = True  # the wrapped classifier is built

    def prepare(self, inputs):
        """Raw inputs → the classifier's inputs (token ids or float images)."""
        if isinstance(inputs, str):
            inputs = [inputs]
        if isinstance(inputs, list | tuple):
            inputs = np.asarray(inputs)
        if self.preprocessor is not None:
            if _is_string(inputs):
                if isinstance(inputs, np.ndarray):
                    inputs = tf.constant(inputs.astype(str).tolist(), tf.string)
                return self.preprocessor(inputs)
            return keras.ops.cast(inputs, "int32")
        if _is_string(inputs):
            raise ValueError(
                "This classifier takes images; it has no text preprocessor. "
                "Received: string inputs"
            )
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        if dtype == "uint8":
            return keras.ops.cast(inputs, "float32") / 255.0
        return keras.ops.cast(inputs, "float32")

    def call(self, inputs, training=False):
        return self.classifier(self.prepare(inputs), training=training)

    def build(self, input_shape=None):
        self.built = True  # the wrapped classifier is built: nothing to create

    def get_config(self):
        config = super().get_config()
        classifier = keras.saving.serialize_keras_object(self.classifier)
        # A finished run's optimizer is training state, not part of the task
        # model (reloading it would also rebuild a mismatched optimizer).
        classifier.pop("compile_config", None)
        config.update(
            classifier=classifier,
            preprocessor=None
            if self.preprocessor is None
            else keras.saving.serialize_keras_object(self.preprocessor),
            label_names=self.label_names,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)
        config["classifier"] = keras.saving.deserialize_keras_object(
            config["classifier"]
        )
        if config.get("preprocessor") is not None:
            config["preprocessor"] = keras.saving.deserialize_keras_object(
                config["preprocessor"]
            )
        return cls(**config)
