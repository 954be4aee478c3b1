"""Autoencoder: reconstruct the (optionally noisy) image."""

from keras_ssl.models import Autoencoder
from keras_ssl.recipes.image import ImageRecipe
from keras_ssl.recipes.registry import register


class AutoencoderRecipe(ImageRecipe):
    name = "autoencoder"
    model_class = Autoencoder
    summary = "reconstruct the image (denoising with noise_stddev)"


RECIPE = register(AutoencoderRecipe())
