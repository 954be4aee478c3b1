"""The `tune` workflow on a tiny SimCLR model: files, resume, bad input."""

import json
import os

import keras
import numpy as np
import pytest

pytest.importorskip("keras_tuner")

from keras_ssl.app import pretrain  # noqa: E402
from keras_ssl.app.tune import tune  # noqa: E402
from keras_ssl.datasets import load  # noqa: E402
from keras_ssl.tuning import HYPERPARAMETER_NAMES  # noqa: E402


@pytest.fixture(scope="module")
def images():
    return (
        load("fashion_mnist", split="train").subset(256, seed=0),
        load("fashion_mnist", split="test").subset(64, seed=0),
    )


@pytest.fixture(scope="module")
def simclr(tmp_path_factory, images):
    return pretrain(
        "simclr",
        images[0],
        output_dir=str(tmp_path_factory.mktemp("pretrain")),
        epochs=1,
        batch_size=32,
        steps_per_epoch=2,
        verbose=0,
        model_kwargs={"widths": (4, 8)},
    )


@pytest.mark.slow
def test_tune_writes_results_and_resumes(tmp_path, images, simclr, capsys):
    before = [w.copy() for w in simclr["model"].encoder.get_weights()]
    kwargs = {
        "max_trials": 2,
        "epochs": 1,
        "output_dir": str(tmp_path),
        "search_space": {"batch_size": 32},
    }
    result = tune(simclr["model_path"], images, **kwargs)
    run_dir = result["run_dir"]
    assert os.path.basename(run_dir).startswith("tune-")
    assert os.path.dirname(run_dir) == str(tmp_path)
    for name in ("best_hyperparameters.json", "results.md", "tune.json"):
        assert os.path.isfile(os.path.join(run_dir, name)), name

    best = json.load(open(os.path.join(run_dir, "best_hyperparameters.json")))
    assert set(best) == set(HYPERPARAMETER_NAMES)
    assert best == result["best_hyperparameters"] and best["batch_size"] == 32
    table = open(os.path.join(run_dir, "results.md")).read()
    assert "| rank | trial | learning_rate |" in table and "val_accuracy" in table
    assert table.count("| completed |") == 2
    assert result["num_trials"] == 2 and result["num_failed"] == 0
    assert 0.0 <= result["val_accuracy"] <= 1.0
    assert 0.0 <= result["test_accuracy"] <= 1.0
    out = capsys.readouterr().out
    assert out.count(") COMPLETED in ") == 2  # one progress line per trial
    assert "Test accuracy" in out

    # The retrained classifier reloads (a TaskClassifier: uint8 images in)
    # and predicts 10 class logits.
    classifier = keras.saving.load_model(result["classifier_path"])
    x = images[1].x[:3]
    logits = classifier.predict(x, verbose=0)
    assert logits.shape == (3, 10)
    np.testing.assert_allclose(logits, result["model"].predict(x, verbose=0), atol=1e-5)

    # The same call again resumes the project: no trial is rerun; this time
    # the classifier is exported too.
    exports = tmp_path / "exports"
    again = tune(simclr["model_path"], images, export_dir=str(exports), **kwargs)
    out = capsys.readouterr().out
    assert "2 trial(s) already done" in out and " COMPLETED in " not in out
    assert again["project_dir"] == result["project_dir"]
    assert again["run_dir"] != run_dir
    assert again["best_hyperparameters"] == best
    assert again["export_path"] == str(exports / "tuned_classifier" / "1")
    assert os.path.isfile(os.path.join(again["export_path"], "saved_model.pb"))

    # The SSL model's encoder was never trained.
    for old, new in zip(before, simclr["model"].encoder.get_weights()):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"tuner": "hyperbnd"}, "Did you mean 'hyperband'"),
        ({"max_trials": 0}, "max_trials"),
        ({"epochs": 1.5}, "epochs"),
        ({"validation_split": 1.0}, "validation_split"),
        ({"search_space": [1]}, "search_space"),
        ({"search_space": {"dropout": 2.0}}, "dropout"),
        ({"search_space": {"lr": 2}}, "Unknown `search_space` keys"),
        ({"export_dir": "exports", "export_name": "../x"}, "name"),
    ],
)
def test_tune_bad_arguments(tmp_path, images, simclr, kwargs, match):
    if "export_dir" in kwargs:
        kwargs = {**kwargs, "export_dir": str(tmp_path / kwargs["export_dir"])}
    with pytest.raises(ValueError, match=match):
        tune(simclr["model"], images, output_dir=str(tmp_path), **kwargs)
    assert not os.listdir(tmp_path)  # nothing written


def test_tune_rejects_texts_for_an_image_model(tmp_path, simclr):
    texts = load("wordnet_nouns").subset(64, seed=0)
    with pytest.raises(ValueError, match="input shape"):
        tune(simclr["model"], texts, output_dir=str(tmp_path))


@pytest.mark.slow
def test_tune_a_text_model(tmp_path):
    # One labelled LabeledData: `tune` holds out 20% of it as the test split.
    texts = load("wordnet_nouns", split="train").subset(160, seed=0)
    mlm = pretrain(
        "mlm",
        texts,
        output_dir=str(tmp_path / "pretrain"),
        epochs=1,
        batch_size=32,
        steps_per_epoch=1,
        verbose=0,
        model_kwargs={
            "sequence_length": 8,
            "vocabulary_size": 120,
            "hidden_dim": 8,
            "num_layers": 1,
            "intermediate_dim": 16,
        },
    )
    result = tune(
        mlm["model"],
        texts,
        tuner="bayesian",
        max_trials=1,
        epochs=1,
        output_dir=str(tmp_path),
        search_space={"batch_size": 32},
        verbose=0,
    )
    assert result["num_trials"] == 1
    tune_json = json.load(open(os.path.join(result["run_dir"], "tune.json")))
    assert tune_json["num_test"] == 32 and tune_json["tuner"] == "bayesian"
    # The classifier takes raw strings (its tokenizer inside).
    sentences = np.array(["a small dog", "a tall tree"], dtype=object)
    assert result["model"].predict(sentences, verbose=0).shape[0] == 2
