"""The method registry: every built-in recipe, lookups and registration."""

import pytest

from keras_ssl import recipes
from keras_ssl.models import SSLModel, TwoViewModel

BUILT_IN = {
    "image": (
        "simclr",
        "byol",
        "simsiam",
        "barlow_twins",
        "vicreg",
        "moco",
        "triplet",
        "autoencoder",
        "rotation",
        "mae",
        "deepcluster",
        "dino",
        "swav",
    ),
    "text": ("mlm", "mlm_nsp", "causal_lm", "rtd", "simcse"),
}
PANELS = {None, "views", "reconstructions", "masked_tokens", "generated_text"}


def test_every_built_in_method_is_registered_in_order():
    assert recipes.names("image") == BUILT_IN["image"]
    assert recipes.names("text") == BUILT_IN["text"]
    assert recipes.names() == (*BUILT_IN["image"], *BUILT_IN["text"])


@pytest.mark.parametrize("name", [*BUILT_IN["image"], *BUILT_IN["text"]])
def test_recipe_fields_are_consistent(name):
    recipe = recipes.get(name)
    assert recipe.name == name
    assert isinstance(recipe, recipes.ImageRecipe | recipes.TextRecipe)
    assert issubclass(recipe.model_class, SSLModel)
    assert recipe.summary and isinstance(recipe.summary, str)
    assert recipe.panel in PANELS
    if recipe.modality == "image":
        assert isinstance(recipe, recipes.ImageRecipe)
        assert (recipe.batch_size, recipe.learning_rate) == (256, 2e-3)
        assert recipe.default_dataset == "fashion_mnist"
    else:
        assert isinstance(recipe, recipes.TextRecipe)
        assert (recipe.batch_size, recipe.learning_rate) == (128, 3e-3)
        assert recipe.default_dataset == "wordnet"
        assert recipe.panel in (None, "masked_tokens", "generated_text")
    # Two-view methods are the TwoViewModel ones, and only they are searched.
    assert recipe.two_view == issubclass(recipe.model_class, TwoViewModel)
    assert (recipe.search_space is not None) == recipe.two_view
    if recipe.two_view:
        assert recipe.modality == "image" and recipe.panel == "views"
        for (low, high), sampling in recipe.search_space.values():
            assert low < high and sampling in ("log", "linear")


def test_measured_defaults():
    assert recipes.get("byol").model_defaults(1000) == {
        "base_momentum": 0.9,
        "total_steps": 1000,
    }
    assert recipes.get("moco").model_defaults(50) == {"total_steps": 50}
    assert recipes.get("mae").model_defaults(50, (28, 28, 1)) == {
        "image_shape": (28, 28, 1),
        "mask_ratio": 0.5,
    }
    assert recipes.get("simclr").model_defaults(50) == {}
    assert not recipes.get("mae").uses_conv_encoder
    assert recipes.get("causal_lm").encoder_builder.__name__ == "transformer_decoder"
    assert recipes.get("mlm").encoder_builder.__name__ == "transformer_encoder"
    assert recipes.names(searchable=True) == (*BUILT_IN["image"][:7], "swav")
    temperature = [
        n
        for n in recipes.names(searchable=True)
        if "temperature" in recipes.get(n).search_space
    ]
    assert temperature == ["simclr", "moco", "swav"]


def test_unknown_name_suggests_the_closest():
    with pytest.raises(
        ValueError, match=r"Received: method='simclrr'.*Did you mean 'simclr'\?"
    ):
        recipes.get("simclrr")
    with pytest.raises(ValueError, match="Argument `modality`"):
        recipes.names("audio")
    with pytest.raises(ValueError, match="Received: method='nope'"):
        recipes.unregister("nope")


class _Duplicate(recipes.ImageRecipe):
    name = "simclr"
    model_class = SSLModel


class _Unnamed(recipes.ImageRecipe):
    model_class = SSLModel


def test_registering_a_duplicate_or_incomplete_recipe_fails():
    before = recipes.names()
    with pytest.raises(ValueError, match="'simclr' is registered already"):
        recipes.register(_Duplicate())
    with pytest.raises(ValueError, match="`name`"):
        recipes.register(_Unnamed())
    with pytest.raises(ValueError, match="Recipe instance"):
        recipes.register(_Duplicate)  # the class, not an instance
    assert recipes.names() == before
    assert recipes.get("simclr").model_class.__name__ == "SimCLR"


def test_register_then_unregister():
    class Other(recipes.ImageRecipe):
        name = "other_method"
        model_class = SSLModel

    recipe = recipes.register(Other())
    try:
        assert recipes.get("other_method") is recipe
        assert recipes.names()[-1] == "other_method"
        assert "other_method" in recipes.names("image")
        assert "other_method" not in recipes.names("text")
    finally:
        recipes.unregister("other_method")
    assert "other_method" not in recipes.names()
