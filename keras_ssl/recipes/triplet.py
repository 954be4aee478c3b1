"""Triplet loss: an image's two views closer than another image's."""

from keras_ssl.models import TripletModel
from keras_ssl.recipes.image import TwoViewRecipe
from keras_ssl.recipes.registry import register


class TripletRecipe(TwoViewRecipe):
    name = "triplet"
    model_class = TripletModel
    summary = "triplet margin between views of the same and of other images"


RECIPE = register(TripletRecipe())
