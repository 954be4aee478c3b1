"""Rotation prediction: classify which multiple of 90° an image was turned."""

import keras
from keras import ops

from keras_ssl.layers.projection_head import ProjectionHead
from keras_ssl.models.image_inputs import prepare_images
from keras_ssl.models.ssl_model import SSLModel
from keras_ssl.models.two_view_model import check_vector_encoder

NUM_ROTATIONS = 4


def rotate_images(images, k):
    """Rotates each image by `k[i] * 90°` counter-clockwise, on-graph.

    Matches `np.rot90(image, k[i], axes=(0, 1))` for every image. The
    images must be square (`height == width`) so that every rotation keeps
    the shape; all four rotations are computed and one is selected per
    image (XLA-friendly).

    Args:
        images: `(batch, size, size, channels)`.
        k: `(batch,)` ints in `[0, 4)`.

    Returns:
        The rotated images, same shape and dtype.
    """
    images = ops.convert_to_tensor(images)
    if len(images.shape) != 4 or images.shape[1] != images.shape[2]:
        raise ValueError(
            "Expected `images` of shape (batch, size, size, channels): "
            f"rotations need square images. Received: images.shape="
            f"{tuple(images.shape)}"
        )
    k = ops.reshape(ops.mod(ops.cast(k, "int32"), NUM_ROTATIONS), (-1, 1, 1, 1))
    transposed = ops.transpose(images, (0, 2, 1, 3))
    rot_90 = ops.flip(transposed, axis=1)
    rot_180 = ops.flip(ops.flip(images, axis=1), axis=2)
    rot_270 = ops.flip(transposed, axis=2)
    return ops.where(
        k == 0,
        images,
        ops.where(k == 1, rot_90, ops.where(k == 2, rot_180, rot_270)),
    )


@keras.saving.register_keras_serializable(package="keras_ssl")
class RotationPrediction(SSLModel):
    """Learns features by predicting the rotation applied to each image.

    Each step rotates every image by a random multiple of 90° (drawn per
    image, seeded, on-graph), encodes it and classifies the rotation
    (4 classes) with a linear head — or an MLP head when `hidden_dim > 0` —
    on the encoder's vector, under sparse categorical cross-entropy.

    Metrics: `loss`, `rotation_accuracy`.

    Args:
        encoder: `keras.Model` from square images in `[0, 1]` to
            `(batch, dim)`.
        hidden_dim: width of the head's hidden layer; 0 for a linear head.
        seed: seed of the rotations.

    Example:

    >>> from keras_ssl.encoders import conv_encoder
    >>> model = RotationPrediction(conv_encoder((28, 28, 1), widths=(8, 16)))
    >>> model.compile(optimizer="adam")
    >>> model.fit(images_uint8, batch_size=64, epochs=1)  # doctest: +SKIP

    Reference:
        [Gidaris et al., 2018](https://arxiv.org/abs/1803.07728)
    """

    def __init__(self, encoder, hidden_dim=0, seed=None, **kwargs):
        super().__init__(encoder, **kwargs)
        check_vector_encoder(encoder)
        height, width = encoder.input_shape[1:3]
        if height is None or height != width:
            raise ValueError(
                "Argument `encoder` must take square images of a fixed size "
                "(rotations by 90° must keep the shape). Received: "
                f"encoder.input_shape={encoder.input_shape}"
            )
        if (
            isinstance(hidden_dim, bool)
            or not isinstance(hidden_dim, int)
            or hidden_dim < 0
        ):
            raise ValueError(
                "Argument `hidden_dim` must be an int >= 0. "
                f"Received: hidden_dim={hidden_dim!r}"
            )
        self.hidden_dim = hidden_dim
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.rotation_head = ProjectionHead(
            NUM_ROTATIONS,
            (hidden_dim,) if hidden_dim else (),
            name="rotation_head",
        )
        self.rotation_head.build(encoder.output_shape)
        self.rotation_accuracy = keras.metrics.Mean(name="rotation_accuracy")
        self.build()

    def call(self, images, training=False):
        return self.encoder(prepare_images(images), training=training)

    def compute_objective(self, images, training=False):
        images = prepare_images(images)
        batch = ops.shape(images)[0]
        labels = keras.random.randint(
            (batch,), 0, NUM_ROTATIONS, seed=self.seed_generator, dtype="int32"
        )
        rotated = rotate_images(images, labels)
        features = self.encoder(rotated, training=training)
        logits = ops.cast(self.rotation_head(features, training=training), "float32")
        per_example = ops.sparse_categorical_crossentropy(
            labels, logits, from_logits=True
        )
        correct = ops.cast(
            ops.cast(ops.argmax(logits, axis=-1), "int32") == labels, "float32"
        )
        return ops.sum(per_example), batch, {"correct": correct}

    def method_metrics(self):
        return [self.rotation_accuracy]

    def update_method_metrics(self, outputs):
        self.rotation_accuracy.update_state(outputs["correct"])

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim, seed=self.seed)
        return config
