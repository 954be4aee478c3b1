"""SimCLR: contrastive learning between two augmented views."""

from keras_ssl.models import SimCLR
from keras_ssl.recipes.image import TwoViewRecipe, two_view_search_space
from keras_ssl.recipes.registry import register


class SimCLRRecipe(TwoViewRecipe):
    name = "simclr"
    model_class = SimCLR
    summary = "contrastive (NT-Xent) between two augmented views"
    search_space = two_view_search_space(temperature=True)


RECIPE = register(SimCLRRecipe())
