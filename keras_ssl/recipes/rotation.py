"""Rotation prediction: which of 0/90/180/270 degrees was applied."""

from keras_ssl.models import RotationPrediction
from keras_ssl.recipes.image import ImageRecipe
from keras_ssl.recipes.registry import register


class RotationRecipe(ImageRecipe):
    name = "rotation"
    model_class = RotationPrediction
    summary = "classify the rotation applied to the image"
    panel = None


RECIPE = register(RotationRecipe())
