"""MAE-style random masking of a fixed fraction of patch tokens."""

import keras
from keras import ops


def gather_tokens(tokens, indices):
    """Picks `tokens[b, indices[b, i]]`: `(batch, n, dim)` by `(batch, k)`."""
    indices = ops.cast(indices, "int32")
    return ops.take_along_axis(tokens, indices[..., None], axis=1)


def num_visible_patches(num_patches, mask_ratio):
    """`round((1 - mask_ratio) * num_patches)`, clipped to `[1, n - 1]`."""
    return int(min(max(round((1.0 - mask_ratio) * num_patches), 1), num_patches - 1))


@keras.saving.register_keras_serializable(package="keras_ssl")
class RandomPatchMasking(keras.layers.Layer):
    """Keeps a random subset of a fixed size of each sequence's tokens.

    For every example, the tokens are ranked by i.i.d. uniform noise
    (argsort) and the first `num_visible = round((1 - mask_ratio) *
    num_patches)` are kept, so output shapes are static (XLA-friendly).
    Fresh masks every call, seeded.

    Args:
        num_patches: sequence length the layer is called on.
        mask_ratio: fraction of tokens hidden, in `(0, 1)`.
        seed: int seed.

    Call arguments:
        tokens: `(batch, num_patches, dim)`.

    Returns:
        A dict: `visible` `(batch, num_visible, dim)` (kept tokens, in
        shuffled order), `visible_indices` `(batch, num_visible)` (their
        positions), `restore_indices` `(batch, num_patches)` (gathering
        `concat([visible, hidden])` along axis 1 with them restores the
        original order) and `mask` `(batch, num_patches)`, 1.0 where a
        token is hidden.

    Example:

    >>> masking = RandomPatchMasking(49, mask_ratio=0.75, seed=0)
    >>> out = masking(keras.random.normal((2, 49, 8)))
    >>> out["visible"].shape
    TensorShape([2, 12, 8])

    Reference:
        [He et al., 2022](https://arxiv.org/abs/2111.06377)
    """

    def __init__(self, num_patches, mask_ratio=0.75, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(num_patches, bool) or not isinstance(num_patches, int):
            raise ValueError(
                "Argument `num_patches` must be an int >= 2. "
                f"Received: num_patches={num_patches!r}"
            )
        if num_patches < 2:
            raise ValueError(
                "Argument `num_patches` must be an int >= 2. "
                f"Received: num_patches={num_patches!r}"
            )
        if (
            isinstance(mask_ratio, bool)
            or not isinstance(mask_ratio, int | float)
            or not 0 < mask_ratio < 1
        ):
            raise ValueError(
                "Argument `mask_ratio` must be a number in (0, 1). "
                f"Received: mask_ratio={mask_ratio!r}"
            )
        self.num_patches = num_patches
        self.mask_ratio = float(mask_ratio)
        self.num_visible = num_visible_patches(num_patches, mask_ratio)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, tokens):
        tokens = ops.convert_to_tensor(tokens)
        if len(tokens.shape) != 3 or tokens.shape[1] != self.num_patches:
            raise ValueError(
                f"Expected `tokens` of shape (batch, {self.num_patches}, dim). "
                f"Received: tokens.shape={tuple(tokens.shape)}"
            )
        batch = ops.shape(tokens)[0]
        noise = keras.random.uniform(
            (batch, self.num_patches), seed=self.seed_generator
        )
        shuffle = ops.cast(ops.argsort(noise, axis=1), "int32")
        restore = ops.cast(ops.argsort(shuffle, axis=1), "int32")
        visible_indices = shuffle[:, : self.num_visible]
        # 0 for the kept prefix of the shuffled order, 1 for the rest; then
        # back to the original order.
        hidden = ops.cast(ops.arange(self.num_patches) >= self.num_visible, "float32")
        mask = ops.take_along_axis(
            ops.broadcast_to(hidden[None, :], (batch, self.num_patches)),
            restore,
            axis=1,
        )
        return {
            "visible": gather_tokens(tokens, visible_indices),
            "visible_indices": visible_indices,
            "restore_indices": restore,
            "mask": mask,
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            num_patches=self.num_patches, mask_ratio=self.mask_ratio, seed=self.seed
        )
        return config
