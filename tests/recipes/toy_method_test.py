"""A new method is one model and one recipe: no edit anywhere else.

The toy method below (predict whether an image was mirrored) is defined
here, registered, pretrained through `keras_ssl.app.pretrain` and through
the command line, and unregistered.
"""

import json
import os
import random

import keras
import numpy as np
import pytest
from keras import ops

from keras_ssl import recipes
from keras_ssl.app import pretrain
from keras_ssl.app.cli import main
from keras_ssl.datasets import from_arrays
from keras_ssl.models import SSLModel
from keras_ssl.models.image_inputs import prepare_images


@keras.saving.register_keras_serializable(package="toy_method_test")
class FlipPrediction(SSLModel):
    """Predicts whether each image was mirrored left to right."""

    def __init__(self, encoder, seed=None, **kwargs):
        super().__init__(encoder, **kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.flip_head = keras.layers.Dense(1, name="flip_head")
        self.flip_head.build(encoder.output_shape)
        self.flip_accuracy = keras.metrics.Mean(name="flip_accuracy")
        self.build()

    def call(self, images, training=False):
        return self.encoder(prepare_images(images), training=training)

    def compute_objective(self, images, training=False):
        images = prepare_images(images)
        batch = ops.shape(images)[0]
        flip = keras.random.randint((batch,), 0, 2, seed=self.seed_generator)
        mirrored = ops.where(
            ops.reshape(flip, (-1, 1, 1, 1)) == 1, ops.flip(images, axis=2), images
        )
        features = self.encoder(mirrored, training=training)
        logits = ops.cast(ops.squeeze(self.flip_head(features), -1), "float32")
        labels = ops.cast(flip, "float32")
        per_example = ops.binary_crossentropy(labels, logits, from_logits=True)
        correct = ops.cast((logits > 0) == (flip == 1), "float32")
        return ops.sum(per_example), batch, {"correct": correct}

    def method_metrics(self):
        return [self.flip_accuracy]

    def update_method_metrics(self, outputs):
        self.flip_accuracy.update_state(outputs["correct"])

    def get_config(self):
        config = super().get_config()
        config.update(seed=self.seed)
        return config


class FlipRecipe(recipes.ImageRecipe):
    name = "toy"
    model_class = FlipPrediction
    summary = "predict whether the image was mirrored"
    batch_size = 8
    panel = None


@pytest.fixture
def toy():
    recipe = recipes.register(FlipRecipe())
    yield recipe
    recipes.unregister("toy")


def tiny_images(n=32, size=8):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, size, size, 1), dtype=np.uint8)
    return from_arrays(images, rng.integers(0, 2, n), name="tiny")


def check_run(run_dir, steps):
    files = set(os.listdir(run_dir))
    assert {"model.keras", "encoder.keras", "config.json", "metrics.json"} <= files
    assert "checkpoint" not in files  # deleted once the results are saved
    config = json.load(open(os.path.join(run_dir, "config.json")))
    assert config["method"] == "toy" and config["batch_size"] == 8
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert metrics["steps"] == steps
    assert np.isfinite(metrics["loss"])
    assert 0.0 <= metrics["flip_accuracy"] <= 1.0
    return metrics


def test_the_toy_method_pretrains_through_the_api(tmp_path, toy):
    random.seed(1)
    np.random.seed(1)
    expected = (random.random(), np.random.random())
    random.seed(1)
    np.random.seed(1)
    result = pretrain(
        "toy",
        tiny_images(),
        output_dir=str(tmp_path),
        epochs=2,
        steps_per_epoch=2,
        verbose=0,
        monitor=True,
        model_kwargs={"widths": (4,)},
    )
    assert os.path.basename(result["run_dir"]).startswith("toy-")
    metrics = check_run(result["run_dir"], steps=4)
    assert result["flip_accuracy"] == metrics["flip_accuracy"]
    assert isinstance(result["model"], FlipPrediction)
    assert len(result["history"]["loss"]) == 2
    # The run was seeded, but the caller's global random state is untouched.
    assert (random.random(), np.random.random()) == expected


def test_the_toy_method_pretrains_through_the_command_line(tmp_path, capsys, toy):
    data = tmp_path / "images"
    for label in ("a", "b"):
        os.makedirs(data / label)
    images = tiny_images(24).x
    for i, image in enumerate(images):
        keras.utils.save_img(str(data / "ab"[i % 2] / f"{i}.png"), image)
    with pytest.raises(SystemExit):  # the help lists the new method
        main(["pretrain", "--help"])
    assert "swav | toy; text:" in " ".join(capsys.readouterr().out.split())
    argv = ["pretrain", "--method", "toy", "--dataset", str(data)]
    argv += ["--epochs", "1", "--steps-per-epoch", "2", "--output-dir"]
    argv += [str(tmp_path / "runs"), "--model-kwargs", '{"widths": [4]}']
    assert main(argv) == 0
    (run_dir,) = [
        line.split(": ", 1)[1].split(" (")[0]
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("Run directory: ")
    ]
    check_run(run_dir, steps=2)
    assert {"command.json", "run.log"} <= set(os.listdir(run_dir))


def test_an_unregistered_method_is_unknown_again(toy):
    recipes.unregister("toy")
    with pytest.raises(ValueError, match="Unknown method"):
        pretrain("toy", tiny_images())
    recipes.register(toy)  # for the fixture's teardown
