"""MoCo: contrastive learning against a queue of momentum-encoded keys."""

from keras_ssl.models import MoCo
from keras_ssl.recipes.image import TwoViewRecipe, two_view_search_space
from keras_ssl.recipes.registry import register


class MoCoRecipe(TwoViewRecipe):
    name = "moco"
    model_class = MoCo
    summary = "contrastive against a queue of momentum-encoder keys"
    search_space = two_view_search_space(temperature=True)

    def model_defaults(self, total_steps, input_shape=None):
        # The momentum encoder's schedule spans the whole run.
        return {"total_steps": total_steps}


RECIPE = register(MoCoRecipe())
