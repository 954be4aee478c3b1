"""Pretraining recipes: one file per method, one registry.

A recipe (`Recipe`) holds everything specific to a method: its model
class, modality, measured defaults, how its model and training stream are
built from the data, whether it is a two-view method, its TensorBoard panel
and its tune-pretraining search space. The application
(`keras_ssl.app.pretrain`, the `keras-ssl` command line, the
tune-pretraining search) reads only the registry, so a new method is one
new recipe file (see README, "Adding a method").

Example:

>>> from keras_ssl import recipes
>>> recipes.get("byol").two_view
True
>>> "mae" in recipes.names("image")
True
"""

from keras_ssl.recipes.image import ImageRecipe, TwoViewRecipe, two_view_search_space
from keras_ssl.recipes.recipe import (
    Pretext,
    PretextContext,
    Recipe,
    TrainingStream,
    shuffled_batches,
)
from keras_ssl.recipes.registry import get, names, register, unregister
from keras_ssl.recipes.text import TextRecipe, tokenize

# The built-in methods, registered in this order (images, then text).
from keras_ssl.recipes import simclr  # noqa: E402,F401  isort: skip
from keras_ssl.recipes import byol  # noqa: E402,F401  isort: skip
from keras_ssl.recipes import simsiam  # noqa: E402,F401  isort: skip
from keras_ssl.recipes import barlow_twins  # noqa: E402,F401  isort: skip
from keras_ssl.recipes import vicreg  # noqa: E402,F401  isort: skip
from keras_ssl.recipes import moco  # noqa: E402,F401  isort: skip
from keras_ssl.recipes import triplet  # noqa: E402,F401  isort: skip
from keras_ssl.recipes import autoencoder  # noqa: E402,F401  isort: skip
from keras_ssl.recipes import rotation  # noqa: E402,F401  isort: skip
from keras_ssl.recipes import mae  # noqa: E402,F401  isort: skip
from keras_ssl.recipes import deepcluster  # noqa: E402,F401  isort: skip
from keras_ssl.recipes import dino  # noqa: E402,F401  isort: skip
from keras_ssl.recipes import swav  # noqa: E402,F401  isort: skip
from keras_ssl.recipes import mlm  # noqa: E402,F401  isort: skip
from keras_ssl.recipes import mlm_nsp  # noqa: E402,F401  isort: skip
from keras_ssl.recipes import causal_lm  # noqa: E402,F401  isort: skip
from keras_ssl.recipes import rtd  # noqa: E402,F401  isort: skip
from keras_ssl.recipes import simcse  # noqa: E402,F401  isort: skip

__all__ = [
    "ImageRecipe",
    "Pretext",
    "PretextContext",
    "Recipe",
    "TextRecipe",
    "TrainingStream",
    "TwoViewRecipe",
    "get",
    "names",
    "register",
    "shuffled_batches",
    "tokenize",
    "two_view_search_space",
    "unregister",
]
