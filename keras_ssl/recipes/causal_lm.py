"""Causal language modelling (GPT): predict every next word piece."""

from keras_ssl.encoders import transformer_decoder
from keras_ssl.models import CausalLanguageModel
from keras_ssl.recipes.registry import register
from keras_ssl.recipes.text import TextRecipe


class CausalLMRecipe(TextRecipe):
    name = "causal_lm"
    model_class = CausalLanguageModel
    summary = "predict every next word piece (a decoder)"
    panel = "generated_text"
    # A causal LM needs a decoder (causal self-attention); the others read
    # the whole sentence.
    encoder_builder = staticmethod(transformer_decoder)
    seeded = False
    accepts_encoder = False


RECIPE = register(CausalLMRecipe())
