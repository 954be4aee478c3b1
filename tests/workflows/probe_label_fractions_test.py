"""`evaluate_images` (`keras-ssl probe`): the label-fraction curve of the
linear probe and the kNN rows named by the k the bank allows."""

import keras
import numpy as np
import pytest

from keras_ssl.app import evaluate as evaluate_module
from keras_ssl.app import evaluate_images
from keras_ssl.app.evaluate import label_fraction_indices
from keras_ssl.datasets import load
from keras_ssl.encoders import conv_encoder
from keras_ssl.evaluation import embed, format_results_table
from keras_ssl.models import SimCLR


@pytest.fixture(scope="module")
def splits():
    return (
        load("fashion_mnist", split="train").subset(200, seed=0),
        load("fashion_mnist", split="test").subset(40, seed=0),
    )


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    encoder = conv_encoder((28, 28, 1), widths=(8, 16))
    return SimCLR(encoder, projection_dim=8, projection_hidden_dims=(16,))


@pytest.fixture(scope="module")
def run(model, splits):
    """The default rows on 200 training images, with every probe's
    training labels and inputs recorded: `(rows, probe calls, pixel calls)`."""
    probes, pixels = [], []
    linear_probe = evaluate_module.linear_probe
    pixel_lr = evaluate_module.pixel_logistic_regression

    def record_probe(encoder, x_train, y_train, x_test, y_test, features):
        probes.append((np.array(y_train), np.array(features[0])))
        return linear_probe(
            encoder, x_train, y_train, x_test, y_test, features=features
        )

    def record_pixels(x_train, y_train, x_test, y_test):
        pixels.append((np.array(y_train), np.array(x_train)))
        return pixel_lr(x_train, y_train, x_test, y_test)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(evaluate_module, "linear_probe", record_probe)
        patch.setattr(evaluate_module, "pixel_logistic_regression", record_pixels)
        rows = evaluate_images(model, splits, probe_train_size=200)
    return rows, probes, pixels


def test_rows_show_the_curve_and_the_k_used(run):
    rows, _, _ = run
    assert [r["protocol"] for r in rows] == [
        "linear probe",
        "linear probe 10% labels (20)",
        # 1% of 200 is 2, but every class keeps one image.
        "linear probe 1% labels (10)",
        # 200 images of 10 classes: at most a tenth of 20 neighbours.
        "kNN k=2 (asked 20, 200)",
    ]
    for row in rows:
        assert all(
            0.0 <= row[key] <= 1.0 for key in ("ssl", "random_init", "raw_input")
        )
    table = format_results_table(rows)
    assert "linear probe 1% labels (10)" in table.splitlines()[4]


def test_the_three_columns_probe_the_same_stratified_nested_subsets(run, model, splits):
    _, probes, pixels = run
    # Calls: per encoder (ssl, random_init) the fractions 100%, 10%, 1%;
    # then the pixel baseline on the same three.
    assert len(probes) == 6 and len(pixels) == 3
    sizes = [len(y) for y, _ in pixels]
    assert sizes == [200, 20, 10]
    for i, (y_raw, x_raw) in enumerate(pixels):
        np.testing.assert_array_equal(probes[i][0], y_raw)  # ssl
        np.testing.assert_array_equal(probes[3 + i][0], y_raw)  # random_init
        # The same images: the SSL features are those of the pixel rows.
        features = embed(model.encoder, x_raw.astype("float32") / 255.0)
        np.testing.assert_allclose(probes[i][1], features, rtol=1e-5, atol=1e-5)
    # Stratified: every class, in proportion (within one image).
    full = np.bincount(pixels[0][0], minlength=10)
    for y, _ in pixels[1:]:
        counts = np.bincount(y, minlength=10)
        assert counts.min() >= 1
        assert np.all(np.abs(counts - full * len(y) / 200) <= 1.0 + 1e-9)
    # Nested: the 1% images are among the 10% ones.
    ten = {image.tobytes() for image in pixels[1][1]}
    assert all(image.tobytes() in ten for image in pixels[2][1])


def test_fraction_indices_sizes_seeds_and_small_classes():
    y = np.repeat([0, 1, 2, 3], [50, 30, 15, 5])
    parts = label_fraction_indices(y, (0.5, 0.1, 0.02), seed=0)
    # 10%: 5, 3, 1.5, 0.5 by class; the leftover goes to the larger
    # remainder (ties: the smaller class id), the last class gets its one.
    assert [len(parts[f]) for f in (0.02, 0.1, 0.5)] == [4, 11, 50]
    assert np.bincount(y[parts[0.1]]).tolist() == [5, 3, 2, 1]
    assert np.bincount(y[parts[0.5]]).tolist() == [25, 15, 8, 2]
    # Every class at least once, even where 2% of it rounds to nothing.
    assert np.bincount(y[parts[0.02]]).tolist() == [1, 1, 1, 1]
    assert set(parts[0.02]) <= set(parts[0.1]) <= set(parts[0.5])
    again = label_fraction_indices(y, (0.5, 0.1, 0.02), seed=0)
    other = label_fraction_indices(y, (0.5, 0.1, 0.02), seed=1)
    np.testing.assert_array_equal(again[0.1], parts[0.1])
    assert not np.array_equal(other[0.1], parts[0.1])
    with pytest.raises(ValueError, match=r"`fractions` must be a number in \(0"):
        label_fraction_indices(y, (0.1, 0.0))
    with pytest.raises(ValueError, match=r"`y` must be a non-empty 1-D array"):
        label_fraction_indices(y[:, None], (0.1,))


def test_rule_off_no_fractions_and_bad_arguments(model, splits):
    rows = evaluate_images(
        model,
        splits,
        probe_train_size=60,
        knn_k=(5,),
        label_fractions=(),
        knn_k_rule=None,
    )
    assert [r["protocol"] for r in rows] == ["linear probe", "kNN k=5"]
    for kwargs, match in (
        ({"label_fractions": (0.1, 1.0)}, r"`label_fractions` must be a number in"),
        ({"label_fractions": "0.1"}, r"`label_fractions` must be a sequence"),
        ({"knn_k": (20, 0)}, r"`knn_k` must be a positive int.*knn_k=\(20, 0\)"),
        ({"knn_k_rule": "sqrt"}, r"`knn_k_rule` must be one of"),
    ):
        with pytest.raises(ValueError, match=match):
            evaluate_images(model, splits, **kwargs)
