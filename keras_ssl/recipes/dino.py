"""DINO: match a momentum teacher across global and local crops."""

from keras_ssl.models.dino import DINO
from keras_ssl.recipes.image import ImageRecipe
from keras_ssl.recipes.registry import register


class DINORecipe(ImageRecipe):
    name = "dino"
    model_class = DINO
    summary = "match a momentum teacher's output across global and local crops"
    # The "views" panel shows one view per call of `model.augmenter`; DINO's
    # multi-crop views are a list (`model.views`).
    panel = None

    def model_defaults(self, total_steps, input_shape=None):
        # A short budget needs a teacher that follows the student (as for
        # BYOL): the momentum rises from 0.99 to 1 over the run.
        return {"base_momentum": 0.99, "total_steps": total_steps}


RECIPE = register(DINORecipe())
