"""VICReg: variance, invariance and covariance terms on two views."""

from keras_ssl.models import VICReg
from keras_ssl.recipes.image import TwoViewRecipe
from keras_ssl.recipes.registry import register


class VICRegRecipe(TwoViewRecipe):
    name = "vicreg"
    model_class = VICReg
    summary = "variance, invariance and covariance of the two views' projections"


RECIPE = register(VICRegRecipe())
