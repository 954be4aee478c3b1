"""The probe, fine-tuning and tuning workflows on streamed data: TFRecord shard
folders, StreamedData and tf.data datasets, never loaded into memory."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.app import evaluate_images, fine_tune_images, finetune
from keras_ssl.datasets import (
    LabeledData,
    StreamedData,
    from_arrays,
    load,
    stream,
    write_shards,
)
from keras_ssl.encoders import conv_encoder
from keras_ssl.models import SimCLR


@pytest.fixture(scope="module")
def splits():
    return (
        load("fashion_mnist", split="train").subset(96, seed=0),
        load("fashion_mnist", split="test").subset(32, seed=0),
    )


@pytest.fixture(scope="module")
def shard_pair(splits, tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate_stream")
    paths = (str(root / "train"), str(root / "test"))
    for data, path in zip(splits, paths):
        write_shards(data, path, shard_size=40, verbose=0)
    return paths


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    encoder = conv_encoder((28, 28, 1), widths=(8, 16))
    return SimCLR(encoder, projection_dim=8, projection_hidden_dims=(16,))


@pytest.fixture(scope="module")
def expected(model, splits):
    """The rows of the in-memory protocol on `splits`."""
    return evaluate_images(model, splits, knn_k=(5,), probe_train_size=64)


@pytest.fixture
def in_memory_images(monkeypatch):
    """Sizes of every `LabeledData` of images built, and of every
    `StreamedData.sample`."""
    built, sampled = [], []
    post_init, sample = LabeledData.__post_init__, StreamedData.sample

    def record_post_init(self):
        if np.ndim(self.x) == 4:
            built.append(len(self.x))
        post_init(self)

    def record_sample(self, n, seed=0):
        sampled.append(n)
        return sample(self, n, seed=seed)

    monkeypatch.setattr(LabeledData, "__post_init__", record_post_init)
    monkeypatch.setattr(StreamedData, "sample", record_sample)
    return built, sampled


def _count_steps():
    steps = []

    class CountSteps(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            steps.append(0)

        def on_train_batch_end(self, batch, logs=None):
            steps[-1] += 1

    return steps, CountSteps()


def test_probe_of_streamed_shards_equals_the_in_memory_protocol(
    model, expected, shard_pair
):
    streamed = evaluate_images(model, shard_pair, knn_k=(5,), probe_train_size=64)
    # 64 probe images of 10 classes: 10% and 1% both keep one per class;
    # 96 bank images: k is capped at a tenth of a class, 1.
    assert [r["protocol"] for r in streamed] == [
        "linear probe",
        "linear probe 10% labels (10)",
        "linear probe 1% labels (10)",
        "kNN k=1 (asked 5)",
    ]
    assert [r["protocol"] for r in expected] == [r["protocol"] for r in streamed]
    for want, got in zip(expected, streamed):
        # The same examples in the same order: the same probe subset, bank
        # and queries, so the same accuracies.
        assert got["ssl"] == want["ssl"]
        assert got["random_init"] == want["random_init"]
        assert got["raw_baseline_examples"] == 96
        assert got["raw_baseline_test_examples"] == 32
        assert "raw_baseline_examples" not in want
    # Raw-pixel kNN: the capped sample holds the whole bank here.
    assert streamed[-1]["raw_input"] == expected[-1]["raw_input"]
    assert 0.0 <= streamed[0]["raw_input"] <= 1.0


def test_streamed_probe_never_holds_the_images(model, shard_pair, in_memory_images):
    built, sampled = in_memory_images
    rows = evaluate_images(
        model, shard_pair, knn_k=(5,), probe_train_size=32, raw_baseline_size=16
    )
    assert rows[0]["raw_baseline_examples"] == 16
    assert rows[0]["raw_baseline_test_examples"] == 16
    # Only the raw baseline's capped samples came into memory.
    assert sampled == [16, 16]
    assert built and max(built) <= 16


def test_one_shard_folder_is_split_and_tf_data_is_accepted(
    model, splits, shard_pair, expected
):
    rows = evaluate_images(model, shard_pair[0], knn_k=(3,), probe_train_size=64)
    # 96 examples: 19 held out (20%) for the test split.
    assert rows[0]["raw_baseline_test_examples"] == 19
    assert rows[0]["raw_baseline_examples"] == 77
    assert all(0.0 <= rows[0][k] <= 1.0 for k in ("ssl", "random_init", "raw_input"))
    pair = tuple(
        tf.data.Dataset.from_tensor_slices((part.x, part.y)).batch(10)
        for part in splits
    )
    streamed = evaluate_images(model, pair, knn_k=(5,), probe_train_size=64)
    assert [r["ssl"] for r in streamed] == [r["ssl"] for r in expected]


def test_unlabelled_streams_are_refused(model, tmp_path):
    images = load("fashion_mnist", split="test").subset(20, seed=0)
    path = str(tmp_path / "unlabelled")
    write_shards(from_arrays(images.x), path, verbose=0)
    with pytest.raises(ValueError, match=r"Evaluation needs labelled data.*unlabelled"):
        evaluate_images(model, path)
    with pytest.raises(ValueError, match=r"Fine-tuning needs labelled data"):
        finetune(model, path, output_dir=str(tmp_path / "runs"))
    with pytest.raises(ValueError, match=r"Evaluation needs labelled data"):
        evaluate_images(model, (stream(path), stream(path)))


def test_finetune_on_a_shard_folder(model, shard_pair, tmp_path, in_memory_images):
    built, sampled = in_memory_images
    steps, counter = _count_steps()
    result = finetune(
        model,
        shard_pair[0],
        output_dir=str(tmp_path),
        epochs=2,
        batch_size=16,
        callbacks=[counter],
        verbose=0,
    )
    # 96 examples: 19 for the test, 8 of the other 77 for validation.
    assert (result["num_train"], result["num_val"], result["num_test"]) == (69, 8, 19)
    assert steps == [69 // 16, 69 // 16]
    assert 0.0 <= result["accuracy"] <= 1.0
    assert result["epochs_run"] == 2
    with open(os.path.join(result["run_dir"], "config.json")) as f:
        config = json.load(f)
    assert config["label_names"][0] == "T-shirt/top"
    assert config["num_classes"] == 10
    assert built == [] and sampled == []


def test_finetune_on_a_tf_data_pair(model, splits, tmp_path):
    pair = tuple(
        tf.data.Dataset.from_tensor_slices((part.x, part.y)) for part in splits
    )
    result = finetune(
        model,
        pair,
        output_dir=str(tmp_path),
        epochs=1,
        batch_size=16,
        validation_split=0,
        verbose=0,
    )
    assert (result["num_train"], result["num_val"], result["num_test"]) == (96, 0, 32)
    assert 0.0 <= result["accuracy"] <= 1.0


@pytest.mark.slow
def test_fine_tune_images_on_streams(model, shard_pair):
    rows = fine_tune_images(
        model,
        shard_pair,
        fractions=(0.5,),
        epochs=1,
        batch_size=16,
        raw_baseline_size=20,
    )
    assert rows[0]["protocol"] == "fine-tune 50% labels (48)"
    assert rows[0]["raw_baseline_examples"] == 20
    for key in ("ssl", "random_init", "raw_input"):
        assert 0.0 <= rows[0][key] <= 1.0


@pytest.mark.slow
def test_tune_on_streamed_shards(model, shard_pair, tmp_path, in_memory_images):
    pytest.importorskip("keras_tuner")
    from keras_ssl.app.tune import tune

    built, sampled = in_memory_images
    result = tune(
        model,
        shard_pair,
        max_trials=1,
        epochs=1,
        train_size=48,
        output_dir=str(tmp_path),
        search_space={"batch_size": [16]},
        verbose=0,
    )
    assert 0.0 <= result["test_accuracy"] <= 1.0
    with open(os.path.join(result["run_dir"], "tune.json")) as f:
        summary = json.load(f)
    assert (summary["num_train"], summary["num_test"]) == (48, 32)
    # The trials fit a sample of 48 images; the test split is streamed.
    assert sampled == [48] and max(built) <= 48


@pytest.mark.slow
def test_text_evaluation_and_finetune_on_streamed_shards(tmp_path):
    from keras_ssl.app import evaluate_text, pretrain

    texts = load("wordnet").subset(64, seed=0)
    model_path = pretrain(
        "mlm",
        texts,
        output_dir=str(tmp_path / "pretrain"),
        epochs=1,
        batch_size=32,
        steps_per_epoch=1,
        verbose=0,
        model_kwargs={
            "sequence_length": 16,
            "vocabulary_size": 200,
            "hidden_dim": 8,
            "num_layers": 1,
            "intermediate_dim": 16,
        },
    )["model_path"]
    paths = (str(tmp_path / "train"), str(tmp_path / "test"))
    for split, n, path in (("train", 60, paths[0]), ("test", 24, paths[1])):
        nouns = load("wordnet_nouns", split=split).subset(n, seed=0)
        write_shards(nouns, path, shard_size=25, verbose=0)
    rows = evaluate_text(
        model_path, paths, train_size=40, epochs=1, batch_size=8, probe_epochs=0
    )
    assert rows[0]["protocol"] == "fine-tune 1 ep (40)"
    assert rows[0]["raw_baseline_examples"] == 40
    assert rows[0]["raw_baseline_test_examples"] == 24
    for key in ("ssl", "random_init", "raw_input"):
        assert 0.0 <= rows[0][key] <= 1.0
    steps, counter = _count_steps()
    result = finetune(
        model_path,
        paths,
        output_dir=str(tmp_path / "runs"),
        epochs=1,
        batch_size=8,
        validation_split=0,
        callbacks=[counter],
        verbose=0,
    )
    assert steps == [60 // 8]
    assert (result["num_train"], result["num_test"]) == (60, 24)
    assert 0.0 <= result["accuracy"] <= 1.0
    # The saved classifier takes raw strings (the tokenizer inside).
    texts = np.array(["a small dog", "the act of running"], dtype=object)
    logits = result["model"].predict(texts, verbose=0)
    assert logits.shape == (2, len(nouns.label_names))
