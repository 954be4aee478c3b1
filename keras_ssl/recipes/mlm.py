"""Masked language modelling (BERT's MLM): predict the masked word pieces."""

from keras_ssl.models import MaskedLanguageModel
from keras_ssl.recipes.registry import register
from keras_ssl.recipes.text import TextRecipe


class MLMRecipe(TextRecipe):
    name = "mlm"
    model_class = MaskedLanguageModel
    summary = "predict the masked word pieces"


RECIPE = register(MLMRecipe())
