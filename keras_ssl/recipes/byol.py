"""BYOL: predict a momentum (EMA) target network's projection of the other view."""

from keras_ssl.models import BYOL
from keras_ssl.recipes.image import TwoViewRecipe
from keras_ssl.recipes.registry import register


class BYOLRecipe(TwoViewRecipe):
    name = "byol"
    model_class = BYOL
    summary = "predict an EMA target network's projection of the other view"

    def model_defaults(self, total_steps, input_shape=None):
        # The EMA target must follow the online network within a short
        # budget: over ~1,000 steps base momentum 0.9 gave 80.4% probe
        # accuracy, the paper's 0.99 78.4% (random-init encoder 79.3%;
        # README, vision benchmark).
        return {"base_momentum": 0.9, "total_steps": total_steps}


RECIPE = register(BYOLRecipe())
