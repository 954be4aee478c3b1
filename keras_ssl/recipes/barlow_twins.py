"""Barlow Twins: decorrelate the views' embedding dimensions."""

from keras_ssl.models import BarlowTwins
from keras_ssl.recipes.image import TwoViewRecipe
from keras_ssl.recipes.registry import register


class BarlowTwinsRecipe(TwoViewRecipe):
    name = "barlow_twins"
    model_class = BarlowTwins
    summary = "cross-correlation of the two views' projections towards identity"


RECIPE = register(BarlowTwinsRecipe())
