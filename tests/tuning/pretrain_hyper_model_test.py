"""`PretrainHyperModel` and `tune_pretraining` on a tiny ConvNet."""

import json
import math
import os

import numpy as np
import pytest

keras_tuner = pytest.importorskip("keras_tuner")

from keras_ssl.app.tune_pretraining import tune_pretraining  # noqa: E402
from keras_ssl.datasets import LabeledData, load  # noqa: E402
from keras_ssl.tuning.pretrain_hyper_model import (  # noqa: E402
    PRETRAIN_METHODS,
    PretrainHyperModel,
)

TINY = {"widths": (4, 8), "batch_size": 32, "steps": 2}


@pytest.fixture(scope="module")
def images():
    """(unlabelled pool, labelled held-out split) of Fashion-MNIST."""
    return (
        load("fashion_mnist", split="train").subset(256, seed=0),
        load("fashion_mnist", split="test").subset(100, seed=0),
    )


def _hp_names(hypermodel):
    hp = keras_tuner.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    return set(hp.values)


def test_search_space_names():
    base = {"learning_rate", "crop_scale_min", "jitter_strength"}
    assert _hp_names(PretrainHyperModel("simclr", **TINY)) == base | {"temperature"}
    assert _hp_names(PretrainHyperModel("moco", **TINY)) == base | {"temperature"}
    assert _hp_names(PretrainHyperModel("byol", **TINY)) == base
    wide = PretrainHyperModel("simclr", projection_dim=[8, 16], **TINY)
    assert "projection_dim" in _hp_names(wide)
    fixed = PretrainHyperModel("simclr", temperature=0.2, **TINY)
    hp = keras_tuner.HyperParameters()
    fixed.declare_hyperparameters(hp)
    assert hp.values["temperature"] == 0.2
    assert fixed.tuner_objective == keras_tuner.Objective("knn_accuracy", "max")
    assert set(PRETRAIN_METHODS) >= {"simclr", "moco", "byol", "vicreg"}


@pytest.mark.parametrize("objective", ["knn_accuracy", "effective_rank"])
def test_objectives_are_finite(images, objective):
    pool, held = images
    hypermodel = PretrainHyperModel("simclr", objective=objective, **TINY)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    if objective == "knn_accuracy":
        bank, query = held.split(0.2, seed=0)
        result = hypermodel.fit(
            hp, model, pool.x, knn_data=(bank.x, bank.y, query.x, query.y)
        )
        assert 0.0 <= result["knn_accuracy"] <= 1.0
    else:
        # Images only: nothing passed to `fit` carries a label.
        result = hypermodel.fit(hp, model, pool.x, rank_images=held.x)
        assert 1.0 <= result["effective_rank"] <= 8.0 + 1e-4
    assert all(math.isfinite(v) for v in result.values())
    assert "loss" in result and model.optimizer.iterations.numpy() == 2


def test_effective_rank_needs_no_labels(tmp_path, images):
    pool, held = images
    unlabelled = (LabeledData(pool.x, name="pool"), LabeledData(held.x, name="held"))
    result = tune_pretraining(
        dataset=unlabelled,
        objective="effective_rank",
        max_trials=1,
        steps=2,
        output_dir=str(tmp_path),
        labelled_size=64,
        batch_size=32,
        widths=(4, 8),
        verbose=0,
    )
    assert math.isfinite(result["best_score"]) and result["num_failed"] == 0
    with pytest.raises(ValueError, match="needs labels"):
        tune_pretraining(
            dataset=unlabelled,
            objective="knn_accuracy",
            output_dir=str(tmp_path),
            batch_size=32,
            verbose=0,
        )


def test_workflow_writes_results_and_resumes(tmp_path, images, capsys):
    kwargs = {
        "dataset": images,
        "max_trials": 2,
        "steps": 2,
        "output_dir": str(tmp_path),
        "labelled_size": 80,
        "batch_size": 32,
        "widths": (4, 8),
        "search_space": {"learning_rate": (1e-3, 1e-2)},
    }
    result = tune_pretraining(**kwargs)
    run_dir = result["run_dir"]
    assert os.path.basename(run_dir).startswith("tune-pretraining-")
    assert os.path.dirname(run_dir) == str(tmp_path)
    with open(os.path.join(run_dir, "best_hyperparameters.json")) as f:
        best = json.load(f)
    assert set(best) == {
        "learning_rate",
        "temperature",
        "crop_scale_min",
        "jitter_strength",
    }
    assert best == result["best_hyperparameters"]
    assert 1e-3 <= best["learning_rate"] <= 1e-2
    with open(os.path.join(run_dir, "results.md")) as f:
        table = f.read()
    assert "| rank | trial | learning_rate |" in table and "knn_accuracy" in table
    assert table.count("| completed |") == 2
    assert result["num_trials"] == 2 and 0.0 <= result["best_score"] <= 1.0
    out = capsys.readouterr().out
    assert out.count(") COMPLETED in ") == 2  # one progress line per trial

    # Same arguments: the project is reloaded and no trial runs again.
    again = tune_pretraining(**kwargs)
    out = capsys.readouterr().out
    assert "2 trial(s) already done" in out and ") COMPLETED in " not in out
    assert again["project_dir"] == result["project_dir"]
    assert again["best_hyperparameters"] == best
    assert again["run_dir"] != run_dir and again["num_trials"] == 2

    # A larger budget adds trials on top.
    more = tune_pretraining(**{**kwargs, "max_trials": 3})
    assert more["num_trials"] == 3
    assert capsys.readouterr().out.count(") COMPLETED in ") == 1


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"method": "simclrr"}, "method"),
        ({"method": "mae"}, "method"),
        ({"objective": "accuracy"}, "objective"),
        ({"tuner": "hyperband"}, "tuner"),
    ],
)
def test_bad_names(tmp_path, kwargs, argument):
    with pytest.raises(ValueError, match=rf"{argument}=.*Expected one of \["):
        tune_pretraining(output_dir=str(tmp_path), **kwargs)
    assert not os.listdir(tmp_path)  # nothing written
    if argument != "tuner":
        with pytest.raises(ValueError, match=rf"{argument}=.*Expected one of \["):
            PretrainHyperModel(**kwargs)


def test_bad_arguments():
    with pytest.raises(ValueError, match="temperature"):
        PretrainHyperModel("byol", temperature=0.1)
    with pytest.raises(ValueError, match="crop_scale_min"):
        PretrainHyperModel("simclr", crop_scale_min=(0.5, 1.0))
    with pytest.raises(ValueError, match="learning_rate"):
        PretrainHyperModel("simclr", learning_rate=[])
    with pytest.raises(ValueError, match="search_space"):
        tune_pretraining(search_space={"dropout": 0.1})
    hypermodel = PretrainHyperModel("simclr", objective="effective_rank", **TINY)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    with pytest.raises(ValueError, match="rank_images"):
        hypermodel.fit(hp, model, np.zeros((32, 28, 28, 1), "uint8"))
