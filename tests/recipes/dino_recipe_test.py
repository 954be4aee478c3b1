"""The "dino" recipe: registered fields, defaults and a tiny `pretrain` run."""

import importlib
import os

import keras
import numpy as np
import pytest

from keras_ssl import recipes
from keras_ssl.datasets import load
from keras_ssl.models.dino import DINO


@pytest.fixture(scope="module")
def recipe():
    """The "dino" recipe, registered for this module only (unless it is
    registered by the package itself)."""
    registered = "dino" in recipes.names()
    module = importlib.import_module("keras_ssl.recipes.dino")
    if "dino" not in recipes.names():
        recipes.register(module.RECIPE)
    yield recipes.get("dino")
    if not registered:
        recipes.unregister("dino")


def test_fields_and_defaults(recipe):
    assert recipe.name == "dino" and recipe.modality == "image"
    assert isinstance(recipe, recipes.ImageRecipe)
    assert recipe.model_class is DINO
    assert not recipe.two_view and recipe.search_space is None
    assert recipe.panel is None
    assert (recipe.batch_size, recipe.learning_rate) == (256, 2e-3)
    assert recipe.model_defaults(500, (28, 28, 1)) == {
        "base_momentum": 0.99,
        "total_steps": 500,
    }
    assert "dino" in recipes.names("image")


def test_pretrain_saves_a_dino_run(recipe, tmp_path):
    from keras_ssl.app import load_ssl_model, pretrain

    train = load("fashion_mnist", split="test").subset(64, seed=0)
    result = pretrain(
        "dino",
        train,
        output_dir=str(tmp_path),
        epochs=1,
        batch_size=16,
        steps_per_epoch=2,
        jit_compile=False,
        verbose=0,
        model_kwargs={
            "widths": (4, 8),
            "output_dim": 32,
            "hidden_dim": 16,
            "bottleneck_dim": 8,
            "num_local": 2,
        },
    )
    assert result["steps"] == 2
    assert np.isfinite(result["loss"]) and result["teacher_entropy"] >= 0
    model = load_ssl_model(os.path.join(result["run_dir"], "model.keras"))
    assert isinstance(model, DINO) and model.total_steps == 2
    assert model.views.num_local == 2
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.center),
        keras.ops.convert_to_numpy(result["model"].center),
    )
