"""Autoencoder and masked-autoencoder reconstructions, written to TensorBoard."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_ssl.callbacks import _monitoring as m
from keras_ssl.checks import check_seed
from keras_ssl.layers.unpatchify import Unpatchify
from keras_ssl.models.autoencoder import Autoencoder
from keras_ssl.models.masked_autoencoder import MaskedAutoencoder


class ReconstructionImages(m.EpochSummaryCallback):
    """Writes a grid of images and the model's reconstructions of them.

    Every `every` epochs, one image summary `tag` whose columns are the
    images and whose rows are:

    - `Autoencoder`: the input, then its reconstruction. For a denoising
      autoencoder (`noise_stddev > 0`): the input, the noisy input (Gaussian
      noise of the model's `noise_stddev`, clipped to `[0, 1]`) and the
      reconstruction of the noisy input.
    - `MaskedAutoencoder`: the input, the masked input (hidden patches in
      grey; the model's `mask_ratio`) and the reconstruction: the predicted
      pixels in the hidden patches, the input's in the visible ones (as in
      the MAE paper's figures). With `norm_pix_loss` the predictions are
      de-normalised with each hidden patch's true mean and variance.

    Noise and masks are drawn from `seed` and stay the same every epoch, so
    the rows show the model improving on the same task; the model's own
    random state is left as training needs it.

    Args:
        images: `(n, height, width, channels)` uint8 or float in `[0, 1]`,
            of the encoder's input size.
        log_dir: folder of the TensorBoard run to write to.
        max_images: how many of `images` to show (columns).
        every: write every `every` epochs.
        seed: seed of the noise or masks.
        tag: name of the image summary.

    Example:

    >>> from keras_ssl.models import MaskedAutoencoder
    >>> model = MaskedAutoencoder(encoder_dim=32, patch_size=4)
    >>> model.fit(images, epochs=3, callbacks=[  # doctest: +SKIP
    ...     ReconstructionImages(images[:8], "logs/monitor")])
    """

    def __init__(
        self, images, log_dir, max_images=8, every=1, seed=0, tag="reconstructions"
    ):
        super().__init__(log_dir, every)
        max_images = m.check_positive_int("max_images", max_images)
        self.images = m.image_array(images)[:max_images]
        self.seed = check_seed(seed)
        self.tag = str(tag)

    def set_model(self, model):
        if not isinstance(model, Autoencoder | MaskedAutoencoder):
            raise ValueError(
                "ReconstructionImages needs an Autoencoder or a "
                f"MaskedAutoencoder. Received: model of type {type(model).__name__}"
            )
        m.check_image_model_inputs(model, self.images, "images", "ReconstructionImages")
        super().set_model(model)

    def rows(self):
        """The rows of the grid, each `(n, height, width, channels)` in [0, 1]."""
        images = m.as_unit_float(self.images)
        if isinstance(self.model, MaskedAutoencoder):
            return [images, *self._masked_rows(images)]
        if self.model.noise_stddev > 0:
            rng = np.random.default_rng(self.seed)
            noise = rng.normal(0.0, self.model.noise_stddev, images.shape)
            noisy = np.clip(images + noise, 0.0, 1.0).astype("float32")
            return [images, noisy, self._to_numpy(self.model.reconstruct(noisy))]
        return [images, self._to_numpy(self.model.reconstruct(images))]

    @staticmethod
    def _to_numpy(x):
        return np.asarray(keras.ops.convert_to_numpy(x), dtype="float32")

    def _masked_rows(self, images):
        model = self.model
        patches = model.patchify(ops.convert_to_tensor(images))
        with m.fixed_random_state(model.masking, self.seed):
            encoded, masked = model.encode_visible(patches, training=False)
        predictions = model.decode(encoded, masked["restore_indices"], training=False)
        predictions = ops.cast(predictions, "float32")
        if model.norm_pix_loss:
            mean = ops.mean(patches, axis=-1, keepdims=True)
            std = ops.sqrt(ops.var(patches, axis=-1, keepdims=True) + 1e-6)
            predictions = predictions * std + mean
        hidden = ops.cast(masked["mask"], "float32")[..., None]
        unpatchify = Unpatchify(model.patch_size, model.image_shape)
        masked_input = unpatchify(patches * (1.0 - hidden) + m.GRID_PAD_VALUE * hidden)
        pasted = unpatchify(patches * (1.0 - hidden) + predictions * hidden)
        return [self._to_numpy(masked_input), self._to_numpy(pasted)]

    def write_summaries(self, epoch):
        tf.summary.image(
            self.tag,
            m.image_grid(self.rows()),
            step=epoch,
            description="Rows: input, corrupted input (if any), reconstruction.",
        )
