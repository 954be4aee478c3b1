"""SimCSE: contrastive learning between two dropout views of each sentence."""

from keras_ssl.models import SimCSE
from keras_ssl.recipes.registry import register
from keras_ssl.recipes.text import TextRecipe


class SimCSERecipe(TextRecipe):
    name = "simcse"
    model_class = SimCSE
    summary = "contrastive between two dropout views of each sentence"
    panel = None


RECIPE = register(SimCSERecipe())
