"""The registry of pretraining methods: one `Recipe` per method name."""

from keras_ssl.checks import check_choice

_RECIPES = {}


def register(recipe):
    """Adds `recipe` to the registry under `recipe.name`; returns it.

    Args:
        recipe: a `keras_ssl.recipes.Recipe` instance whose `name` is not
            registered yet.

    Returns:
        The recipe (so a recipe file can write `RECIPE = register(...)`).

    Example:

    >>> from keras_ssl.recipes import ImageRecipe
    >>> from keras_ssl.models import Autoencoder
    >>> class Denoising(ImageRecipe):
    ...     name = "denoising_example"
    ...     model_class = Autoencoder
    >>> recipe = register(Denoising())
    >>> get("denoising_example").modality
    'image'
    >>> unregister("denoising_example")
    """
    from keras_ssl.recipes.recipe import Recipe

    if not isinstance(recipe, Recipe):
        raise ValueError(
            "Argument `recipe` must be a keras_ssl.recipes.Recipe instance. "
            f"Received: recipe of type {type(recipe).__name__}"
        )
    recipe.check()
    if recipe.name in _RECIPES:
        raise ValueError(
            f"A method named {recipe.name!r} is registered already. Received: "
            f"recipe.name={recipe.name!r}; unregister the other one first."
        )
    _RECIPES[recipe.name] = recipe
    return recipe


def unregister(name):
    """Removes the method `name` from the registry (tests, experiments)."""
    check_choice("method", name, _RECIPES)
    del _RECIPES[name]


def get(name):
    """The `Recipe` of the method `name`.

    Raises a `ValueError` naming the registered methods (with a "did you
    mean") for an unknown name.

    >>> get("simclr").modality
    'image'
    """
    check_choice("method", name, _RECIPES)
    return _RECIPES[name]


def names(modality=None, searchable=False):
    """The registered method names, in registration order.

    Args:
        modality: `None` (all), `"image"` or `"text"`.
        searchable: only the methods with a tune-pretraining search space
            (`Recipe.search_space` not `None`).

    Returns:
        A tuple of str.

    >>> names("text")
    ('mlm', 'mlm_nsp', 'causal_lm', 'rtd', 'simcse')
    """
    if modality is not None:
        check_choice("modality", modality, ("image", "text"))
    return tuple(
        name
        for name, recipe in _RECIPES.items()
        if (modality is None or recipe.modality == modality)
        and (not searchable or recipe.search_space is not None)
    )
