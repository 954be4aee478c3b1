"""(Denoising) autoencoder: reconstruct images from the encoder's vector."""

import copy

import keras
from keras import layers, ops

from keras_ssl.models.image_inputs import prepare_images
from keras_ssl.models.ssl_model import SSLModel
from keras_ssl.models.two_view_model import check_vector_encoder

_LOSSES = ("mse", "bce")


def default_decoder(image_shape, latent_dim, width=32, name="decoder"):
    """A small decoder from a vector to images in `[0, 1]`.

    `Dense` to a `(h / 4, w / 4, width)` map, two stride-2
    `Conv2DTranspose` layers back to `(h, w)`, and a 3×3 convolution with a
    sigmoid to the image channels.

    Args:
        image_shape: `(height, width, channels)`; height and width must be
            divisible by 4 (28×28 and 32×32 work).
        latent_dim: size of the input vectors.
        width: channels of the decoder's feature maps.
        name: model name.

    Returns:
        A functional `keras.Model` from `(batch, latent_dim)` to
        `(batch, *image_shape)`.
    """
    if (
        not isinstance(image_shape, tuple | list)
        or len(image_shape) != 3
        or not all(isinstance(d, int) and d > 0 for d in image_shape)
    ):
        raise ValueError(
            "Argument `image_shape` must be (height, width, channels) positive "
            f"ints. Received: image_shape={image_shape!r}"
        )
    height, img_width, channels = image_shape
    if height % 4 or img_width % 4:
        raise ValueError(
            "The default `decoder` upsamples by 4 (two stride-2 transposed "
            "convolutions), so it needs an image height and width divisible "
            f"by 4 (e.g. 28x28, 32x32). Received: image size {height}x"
            f"{img_width}. Pass your own `decoder` model instead."
        )
    inputs = keras.Input(shape=(latent_dim,), name="latent")
    x = layers.Dense((height // 4) * (img_width // 4) * width, activation="relu")(
        inputs
    )
    x = layers.Reshape((height // 4, img_width // 4, width))(x)
    for _ in range(2):
        x = layers.Conv2DTranspose(
            width, 3, strides=2, padding="same", activation="relu"
        )(x)
    x = layers.Conv2D(channels, 3, padding="same", activation="sigmoid")(x)
    return keras.Model(inputs, x, name=name)


def reconstruction_loss(images, reconstructions, loss="mse"):
    """Per-example reconstruction loss: the mean over pixels.

    Args:
        images: targets in `[0, 1]`, `(batch, height, width, channels)`.
        reconstructions: predictions in `[0, 1]`, same shape.
        loss: `"mse"` (squared error) or `"bce"` (binary cross-entropy).

    Returns:
        `(batch,)` float32.
    """
    images = ops.cast(images, "float32")
    reconstructions = ops.cast(reconstructions, "float32")
    if loss == "mse":
        per_pixel = ops.square(reconstructions - images)
    elif loss == "bce":
        eps = keras.config.epsilon()
        p = ops.clip(reconstructions, eps, 1.0 - eps)
        per_pixel = -(images * ops.log(p) + (1.0 - images) * ops.log(1.0 - p))
    else:
        raise ValueError(f"Argument `loss` must be one of {_LOSSES}. Received: {loss=}")
    return ops.mean(ops.reshape(per_pixel, (ops.shape(per_pixel)[0], -1)), axis=1)


@keras.saving.register_keras_serializable(package="keras_ssl")
class Autoencoder(SSLModel):
    """Autoencoder (optionally denoising) on an image encoder.

    Each step encodes the images (with Gaussian noise added when
    `noise_stddev > 0` and training, clipped to `[0, 1]`: the denoising
    variant), decodes the encoder's vector back to an image and minimises
    the reconstruction loss against the clean images (per example, the mean
    over pixels).

    `model(images)` returns the encoder's vector; `model.reconstruct(images)`
    the decoded images.

    Metrics: `loss`, `reconstruction_error` (mean squared error per pixel,
    whatever `loss` is).

    Args:
        encoder: `keras.Model` from images in `[0, 1]` to `(batch, dim)`.
        decoder: `keras.Model` from `(batch, dim)` to images of the
            encoder's input shape in `[0, 1]` (end with a sigmoid); defaults
            to `default_decoder` (needs height and width divisible by 4).
        noise_stddev: standard deviation of the input noise, >= 0.
        loss: `"mse"` or `"bce"`.
        seed: seed of the noise.

    Example:

    >>> from keras_ssl.encoders import conv_encoder
    >>> model = Autoencoder(conv_encoder((28, 28, 1), widths=(8, 16)))
    >>> model.compile(optimizer="adam")
    >>> model.fit(images_uint8, batch_size=64, epochs=1)  # doctest: +SKIP

    Reference:
        [Vincent et al., 2008](https://dl.acm.org/doi/10.1145/1390156.1390294)
    """

    def __init__(
        self,
        encoder,
        decoder=None,
        noise_stddev=0.0,
        loss="mse",
        seed=None,
        **kwargs,
    ):
        super().__init__(encoder, **kwargs)
        check_vector_encoder(encoder)
        if (
            isinstance(noise_stddev, bool)
            or not isinstance(noise_stddev, int | float)
            or noise_stddev < 0
        ):
            raise ValueError(
                "Argument `noise_stddev` must be a number >= 0. "
                f"Received: noise_stddev={noise_stddev!r}"
            )
        if loss not in _LOSSES:
            raise ValueError(
                f"Argument `loss` must be one of {_LOSSES}. Received: loss={loss!r}"
            )
        image_shape = tuple(encoder.input_shape[1:])
        latent_dim = encoder.output_shape[-1]
        if decoder is None:
            decoder = default_decoder(image_shape, latent_dim)
        _check_decoder(decoder, latent_dim, image_shape)
        self.decoder = decoder
        self.noise_stddev = float(noise_stddev)
        self.reconstruction_loss = loss
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.reconstruction_error = keras.metrics.Mean(name="reconstruction_error")
        self.build()

    def call(self, images, training=False):
        return self.encoder(prepare_images(images), training=training)

    def reconstruct(self, images, training=False):
        """Encodes and decodes `images` (uint8 or float in `[0, 1]`)."""
        features = self.encoder(prepare_images(images), training=training)
        return self.decoder(features, training=training)

    def compute_objective(self, images, training=False):
        images = prepare_images(images)
        inputs = images
        if training and self.noise_stddev > 0:
            noise = keras.random.normal(
                ops.shape(images), stddev=self.noise_stddev, seed=self.seed_generator
            )
            inputs = ops.clip(images + noise, 0.0, 1.0)
        features = self.encoder(inputs, training=training)
        reconstructions = self.decoder(features, training=training)
        per_example = reconstruction_loss(
            images, reconstructions, self.reconstruction_loss
        )
        squared_error = reconstruction_loss(images, reconstructions, "mse")
        return (
            ops.sum(per_example),
            ops.shape(images)[0],
            {"squared_error": squared_error},
        )

    def method_metrics(self):
        return [self.reconstruction_error]

    def update_method_metrics(self, outputs):
        self.reconstruction_error.update_state(outputs["squared_error"])

    def get_config(self):
        config = super().get_config()
        config.update(
            decoder=keras.saving.serialize_keras_object(self.decoder),
            noise_stddev=self.noise_stddev,
            loss=self.reconstruction_loss,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return super().from_config(config)


def _check_decoder(decoder, latent_dim, image_shape):
    if not isinstance(decoder, keras.Model):
        raise ValueError(
            "Argument `decoder` must be a keras.Model. "
            f"Received: decoder of type {type(decoder).__name__}"
        )
    try:
        in_shape, out_shape = decoder.input_shape, decoder.output_shape
    except (AttributeError, ValueError):
        # A subclassed decoder: build it on the latent shape and trust it.
        in_shape = out_shape = None
    if in_shape is None:
        out = decoder.compute_output_spec(
            keras.KerasTensor((None, latent_dim), dtype="float32")
        )
        in_shape, out_shape = (None, latent_dim), tuple(out.shape)
    if tuple(in_shape[1:]) != (latent_dim,) or tuple(out_shape[1:]) != image_shape:
        expected = ", ".join(map(str, image_shape))
        raise ValueError(
            "Argument `decoder` must map the encoder's vectors back to its "
            f"images: (batch, {latent_dim}) -> (batch, {expected}). "
            f"Received: decoder.input_shape={in_shape}, "
            f"decoder.output_shape={out_shape}"
        )
