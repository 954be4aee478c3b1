"""Replaced token detection (ELECTRA): spot the generator's replacements."""

from keras_ssl.models import ReplacedTokenDetection
from keras_ssl.recipes.registry import register
from keras_ssl.recipes.text import TextRecipe


class RTDRecipe(TextRecipe):
    name = "rtd"
    model_class = ReplacedTokenDetection
    summary = "spot the word pieces a small generator replaced"


RECIPE = register(RTDRecipe())
