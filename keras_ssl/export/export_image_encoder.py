"""Export an image encoder as a SavedModel for TensorFlow Serving."""

import keras
import tensorflow as tf

from keras_ssl.export._checks import as_float32, check_export_dir


def _resolve_encoder(encoder):
    model = getattr(encoder, "encoder", None)
    if isinstance(model, keras.Model):
        encoder = model
    if not isinstance(encoder, keras.Model):
        raise ValueError(
            "Argument `encoder` must be a keras.Model from images to "
            "(batch, dim), or a model with such an `.encoder` (e.g. SimCLR). "
            f"Received: encoder={encoder!r} of type {type(encoder).__name__}"
        )
    in_shape = getattr(encoder, "input_shape", None)
    out_shape = getattr(encoder, "output_shape", None)
    if not isinstance(in_shape, tuple) or len(in_shape) != 4:
        raise ValueError(
            "Argument `encoder` must take one input of shape (batch, height, "
            f"width, channels). Received: encoder.input_shape={in_shape}"
        )
    if not isinstance(out_shape, tuple) or len(out_shape) != 2:
        raise ValueError(
            "Argument `encoder` must return one vector per image, of shape "
            f"(batch, dim). Received: encoder.output_shape={out_shape}"
        )
    return encoder


def _resolve_image_shape(encoder, image_shape):
    model_shape = tuple(encoder.input_shape[1:])
    if image_shape is None:
        if any(d is None for d in model_shape):
            raise ValueError(
                "Argument `image_shape` is required when the encoder's input "
                "size is not fixed. Received: image_shape=None with "
                f"encoder.input_shape={encoder.input_shape}. Expected: "
                "(height, width, channels) of the images the encoder was "
                "trained on."
            )
        return model_shape
    try:
        image_shape = tuple(image_shape)
    except TypeError:
        image_shape = None
    if (
        image_shape is None
        or len(image_shape) != 3
        or not all(
            isinstance(d, int) and not isinstance(d, bool) and d > 0
            for d in image_shape
        )
    ):
        raise ValueError(
            "Argument `image_shape` must be (height, width, channels) with "
            f"positive ints. Received: image_shape={image_shape!r}"
        )
    for got, want in zip(image_shape, model_shape):
        if want is not None and got != want:
            raise ValueError(
                "Argument `image_shape` must match the encoder's input. "
                f"Received: image_shape={image_shape} with "
                f"encoder.input_shape={encoder.input_shape}"
            )
    return image_shape


def export_image_encoder(encoder, export_dir, image_shape=None):
    """Exports an image encoder as a SavedModel that TF Serving loads as-is.

    The SavedModel has two signatures, both returning
    `{"embedding": float32 (batch, dim)}` computed by the encoder in
    inference mode (`training=False`: batch normalization uses its moving
    statistics):

    - `serving_default`: input `images`, `uint8` of shape
      `(batch, height, width, channels)` in `[0, 255]`; the images are
      scaled to `[0, 1]` in the graph, as during training.
    - `embed_prepared`: input `images`, `float32` of the same shape, already
      in `[0, 1]`.

    Both graphs use core TensorFlow ops only, so the export loads with plain
    `tf.saved_model.load` (or `keras.layers.TFSMLayer`) and in TensorFlow
    Serving, without `keras_ssl` or `keras`. To write the TF Serving layout
    `base_dir/name/version/`, wrap the call in `versioned_export`.

    Args:
        encoder: `keras.Model` from float images in `[0, 1]`, shape
            `(batch, height, width, channels)`, to `(batch, dim)`; or a model
            holding one as `.encoder` (e.g. a trained `SimCLR`).
        export_dir: path of the SavedModel directory; it must not exist yet
            or be empty (exports never overwrite files).
        image_shape: `(height, width, channels)` accepted by the
            signatures. Defaults to the encoder's input shape; required when
            that shape has unknown dimensions.

    Returns:
        `export_dir`, as a `str`.

    Example (not run as a doctest: it trains, and an export takes seconds):

    >>> from keras_ssl.encoders import conv_encoder  # doctest: +SKIP
    >>> from keras_ssl.models import SimCLR  # doctest: +SKIP
    >>> model = SimCLR(conv_encoder((28, 28, 1)))  # doctest: +SKIP
    >>> model.compile(optimizer="adam")  # doctest: +SKIP
    >>> model.fit(images_uint8, epochs=1)  # doctest: +SKIP
    >>> export_image_encoder(model, "/tmp/simclr_export")  # doctest: +SKIP
    '/tmp/simclr_export'
    >>> served = tf.saved_model.load("/tmp/simclr_export")  # doctest: +SKIP
    >>> served.signatures["serving_default"](  # doctest: +SKIP
    ...     images=tf.zeros((2, 28, 28, 1), tf.uint8))["embedding"].shape
    TensorShape([2, 128])
    """
    encoder = _resolve_encoder(encoder)
    image_shape = _resolve_image_shape(encoder, image_shape)
    export_dir = check_export_dir(export_dir)

    def embed_prepared(images):
        return {"embedding": as_float32(encoder(images, training=False))}

    def serving_default(images):
        return embed_prepared(tf.cast(images, tf.float32) / 255.0)

    shape = (None, *image_shape)
    archive = keras.export.ExportArchive()
    archive.track(encoder)
    archive.add_endpoint(
        "serving_default",
        serving_default,
        input_signature=[tf.TensorSpec(shape, tf.uint8, name="images")],
    )
    archive.add_endpoint(
        "embed_prepared",
        embed_prepared,
        input_signature=[tf.TensorSpec(shape, tf.float32, name="images")],
    )
    archive.write_out(export_dir, verbose=False)
    return export_dir
