"""Masked autoencoder (MAE) on image patches with a small ViT."""

import copy

import keras
import keras_hub
from keras import ops

from keras_ssl.checks import check_int_range
from keras_ssl.layers.patchify import Patchify, check_patch_size
from keras_ssl.layers.random_patch_masking import RandomPatchMasking, gather_tokens
from keras_ssl.models.image_inputs import prepare_images
from keras_ssl.models.ssl_model import SSLModel


def masked_patch_loss(predictions, targets, mask, norm_pix_loss=False, eps=1e-6):
    """Squared error per patch, zeroed where the patch was visible.

    Args:
        predictions: `(batch, num_patches, patch_dim)` predicted pixels.
        targets: `(batch, num_patches, patch_dim)` true pixels.
        mask: `(batch, num_patches)`, 1.0 for masked (predicted) patches.
        norm_pix_loss: normalise each target patch to zero mean and unit
            variance first (MAE's variant).
        eps: added to the variance when normalising.

    Returns:
        `(batch, num_patches)`: the mean squared error over each masked
        patch's values, 0.0 on visible patches. Sum it and divide by
        `sum(mask)` for the MAE loss.
    """
    predictions = ops.cast(predictions, "float32")
    targets = ops.cast(targets, "float32")
    if norm_pix_loss:
        mean = ops.mean(targets, axis=-1, keepdims=True)
        var = ops.var(targets, axis=-1, keepdims=True)
        targets = (targets - mean) / ops.sqrt(var + eps)
    per_patch = ops.mean(ops.square(predictions - targets), axis=-1)
    return per_patch * ops.cast(mask, "float32")


@keras.saving.register_keras_serializable(package="keras_ssl")
class MaskedAutoencoder(SSLModel):
    """Masked autoencoder: reconstruct hidden image patches from visible ones.

    Images are cut into `patch_size` patches (`Patchify`), linearly embedded
    with learned position embeddings; each step hides a fresh random
    `mask_ratio` of each image's patches (a fixed count, so shapes are
    static), runs the Transformer encoder on the visible patches only, then
    a light decoder on the encoded patches plus a learned mask token at
    every hidden position (restored to the original order) predicts the
    pixels. The loss is the mean squared error on the masked patches only
    (on per-patch normalised pixels when `norm_pix_loss`).

    `model.encoder` is a functional `keras.Model` from float images in
    `[0, 1]` to the mean of the encoded tokens of *all* patches (no
    masking), which is what `model(images)`, probes and export use; the
    training path shares its layers (`patchify`, `patch_embed`,
    `position_embedding`, `blocks`, `encoder_norm`).

    Metrics: `loss`.

    Args:
        encoder_dim: width of the encoder tokens.
        patch_size: side of the square patches; divides the image size.
        mask_ratio: fraction of patches hidden, in `(0, 1)`.
        depth: number of encoder Transformer blocks.
        decoder_dim: width of the decoder tokens.
        decoder_depth: number of decoder Transformer blocks.
        num_heads: attention heads (divides `encoder_dim` and
            `decoder_dim`).
        image_shape: `(height, width, channels)` of the images.
        mlp_ratio: feed-forward width of each block over its token width.
        norm_pix_loss: predict per-patch normalised pixels.
        seed: seed of the masks.

    Example:

    >>> model = MaskedAutoencoder(encoder_dim=32, patch_size=4, depth=2)
    >>> model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    >>> model.fit(images_uint8, batch_size=64, epochs=1)  # doctest: +SKIP

    Reference:
        [He et al., 2022](https://arxiv.org/abs/2111.06377)
    """

    def __init__(
        self,
        encoder_dim=64,
        patch_size=4,
        mask_ratio=0.75,
        depth=2,
        decoder_dim=32,
        decoder_depth=1,
        num_heads=2,
        image_shape=(28, 28, 1),
        mlp_ratio=2,
        norm_pix_loss=False,
        seed=None,
        **kwargs,
    ):
        if "encoder" in kwargs:
            raise ValueError(
                "MaskedAutoencoder builds its own ViT encoder from its "
                "arguments; do not pass `encoder`. Received: encoder="
                f"{kwargs['encoder']!r}"
            )
        for name, value, low in (
            ("encoder_dim", encoder_dim, 1),
            ("depth", depth, 1),
            ("decoder_dim", decoder_dim, 1),
            ("decoder_depth", decoder_depth, 0),
            ("num_heads", num_heads, 1),
            ("mlp_ratio", mlp_ratio, 1),
        ):
            check_int_range(name, value, low)
        for name, dim in (("encoder_dim", encoder_dim), ("decoder_dim", decoder_dim)):
            if dim % num_heads:
                raise ValueError(
                    f"Argument `{name}` must be divisible by `num_heads`. "
                    f"Received: {name}={dim}, num_heads={num_heads}"
                )
        if (
            not isinstance(image_shape, tuple | list)
            or len(image_shape) != 3
            or not all(
                isinstance(d, int) and not isinstance(d, bool) and d > 0
                for d in image_shape
            )
        ):
            raise ValueError(
                "Argument `image_shape` must be (height, width, channels) "
                f"positive ints. Received: image_shape={image_shape!r}"
            )
        image_shape = tuple(image_shape)
        check_patch_size(patch_size, image_shape)
        height, width, channels = image_shape
        num_patches = (height // patch_size) * (width // patch_size)
        if num_patches < 2:
            raise ValueError(
                "Argument `patch_size` must leave at least 2 patches per image. "
                f"Received: patch_size={patch_size} for images of size "
                f"{height}x{width}"
            )
        # Validates mask_ratio too.
        masking = RandomPatchMasking(num_patches, mask_ratio, seed=seed, name="masking")

        # The encoder, functional, so it can be probed and exported alone.
        patchify = Patchify(patch_size, name="patchify")
        patch_embed = keras.layers.Dense(encoder_dim, name="patch_embed")
        position_embedding = keras_hub.layers.PositionEmbedding(
            num_patches, name="position_embedding"
        )
        blocks = [
            _block(encoder_dim, mlp_ratio, num_heads, f"encoder_block_{i}")
            for i in range(depth)
        ]
        encoder_norm = keras.layers.LayerNormalization(
            epsilon=1e-6, name="encoder_norm"
        )
        images = keras.Input(shape=image_shape, name="images")
        x = patch_embed(patchify(images))
        x = keras.layers.Add(name="add_positions")([x, position_embedding(x)])
        for block in blocks:
            x = block(x)
        x = encoder_norm(x)
        x = keras.layers.GlobalAveragePooling1D(name="mean_pool")(x)
        encoder = keras.Model(images, x, name="mae_encoder")

        super().__init__(encoder, **kwargs)
        self.encoder_dim = encoder_dim
        self.patch_size = patch_size
        self.mask_ratio = masking.mask_ratio
        self.depth = depth
        self.decoder_dim = decoder_dim
        self.decoder_depth = decoder_depth
        self.num_heads = num_heads
        self.image_shape = image_shape
        self.mlp_ratio = mlp_ratio
        self.norm_pix_loss = bool(norm_pix_loss)
        self.seed = seed
        self.num_patches = num_patches
        self.num_visible = masking.num_visible

        self.masking = masking
        self.patchify = patchify
        self.patch_embed = patch_embed
        self.position_embedding = position_embedding
        self.blocks = blocks
        self.encoder_norm = encoder_norm

        # The decoder: built here so the optimizer sees every variable.
        self.decoder_embed = keras.layers.Dense(decoder_dim, name="decoder_embed")
        self.decoder_embed.build((None, None, encoder_dim))
        self.mask_token = self.add_weight(
            shape=(1, 1, decoder_dim),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="mask_token",
        )
        self.decoder_position_embedding = keras_hub.layers.PositionEmbedding(
            num_patches, name="decoder_position_embedding"
        )
        self.decoder_position_embedding.build((None, num_patches, decoder_dim))
        self.decoder_blocks = [
            _block(decoder_dim, mlp_ratio, num_heads, f"decoder_block_{i}")
            for i in range(decoder_depth)
        ]
        for block in self.decoder_blocks:
            block.build((None, num_patches, decoder_dim))
        self.decoder_norm = keras.layers.LayerNormalization(
            epsilon=1e-6, name="decoder_norm"
        )
        self.decoder_norm.build((None, num_patches, decoder_dim))
        patch_dim = patch_size * patch_size * channels
        self.decoder_pred = keras.layers.Dense(patch_dim, name="decoder_pred")
        self.decoder_pred.build((None, num_patches, decoder_dim))
        self.build()

    def call(self, images, training=False):
        return self.encoder(prepare_images(images), training=training)

    def encode_visible(self, patches, training=False):
        """Embeds all patches, masks them and encodes the visible ones.

        Returns `(encoded, masked)`: `(batch, num_visible, encoder_dim)` and
        the output dict of `RandomPatchMasking`.
        """
        x = self.patch_embed(patches)
        x = x + self.position_embedding(x)
        masked = self.masking(x)
        x = masked["visible"]
        for block in self.blocks:
            x = block(x, training=training)
        return self.encoder_norm(x), masked

    def decode(self, encoded, restore_indices, training=False):
        """Predicts the pixels of every patch from the visible encodings."""
        x = self.decoder_embed(encoded)
        batch = ops.shape(x)[0]
        mask_tokens = ops.broadcast_to(
            ops.cast(self.mask_token, x.dtype),
            (batch, self.num_patches - self.num_visible, self.decoder_dim),
        )
        x = gather_tokens(ops.concatenate([x, mask_tokens], axis=1), restore_indices)
        x = x + self.decoder_position_embedding(x)
        for block in self.decoder_blocks:
            x = block(x, training=training)
        return self.decoder_pred(self.decoder_norm(x))

    def _check_images(self, images):
        if tuple(images.shape[1:]) != self.image_shape:
            expected = ", ".join(map(str, self.image_shape))
            raise ValueError(
                f"Expected `images` of shape (batch, {expected}) (image_shape). "
                f"Received: images.shape={tuple(images.shape)}"
            )

    def compute_objective(self, images, training=False):
        images = prepare_images(images)
        self._check_images(images)
        patches = self.patchify(images)
        encoded, masked = self.encode_visible(patches, training=training)
        predictions = self.decode(encoded, masked["restore_indices"], training=training)
        per_patch = masked_patch_loss(
            predictions, patches, masked["mask"], self.norm_pix_loss
        )
        return ops.sum(per_patch), ops.sum(masked["mask"]), {}

    def get_config(self):
        config = super().get_config()
        # The encoder is rebuilt from the scalars below.
        config.pop("encoder", None)
        config.update(
            encoder_dim=self.encoder_dim,
            patch_size=self.patch_size,
            mask_ratio=self.mask_ratio,
            depth=self.depth,
            decoder_dim=self.decoder_dim,
            decoder_depth=self.decoder_depth,
            num_heads=self.num_heads,
            image_shape=self.image_shape,
            mlp_ratio=self.mlp_ratio,
            norm_pix_loss=self.norm_pix_loss,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)
        config.pop("encoder", None)
        if "image_shape" in config:
            config["image_shape"] = tuple(config["image_shape"])
        return cls(**config)


def _block(dim, mlp_ratio, num_heads, name):
    return keras_hub.layers.TransformerEncoder(
        intermediate_dim=dim * mlp_ratio,
        num_heads=num_heads,
        activation="gelu",
        layer_norm_epsilon=1e-6,
        normalize_first=True,
        name=name,
    )
