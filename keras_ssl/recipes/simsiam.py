"""SimSiam: predict one view's projection from the other's (stop-gradient)."""

from keras_ssl.models import SimSiam
from keras_ssl.recipes.image import TwoViewRecipe
from keras_ssl.recipes.registry import register


class SimSiamRecipe(TwoViewRecipe):
    name = "simsiam"
    model_class = SimSiam
    summary = "predict one view's projection from the other's, stop-gradient"


RECIPE = register(SimSiamRecipe())
