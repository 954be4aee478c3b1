import keras
import numpy as np
import pytest

from keras_ssl.evaluation import embed, linear_probe, pixel_logistic_regression


def test_separable_blobs_reach_high_accuracy(blobs):
    x_train, y_train, x_test, y_test = blobs
    encoder = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16)])
    result = linear_probe(encoder, x_train, y_train, x_test, y_test)
    assert result["accuracy"] > 0.95
    assert result["num_train"] == 300
    assert result["num_test"] == 100
    assert result["dim"] == 16
    assert isinstance(result["accuracy"], float)


def test_random_labels_give_chance_accuracy(blobs):
    x_train, _, x_test, _ = blobs
    rng = np.random.default_rng(1)
    y_train = rng.integers(0, 4, size=len(x_train))
    y_test = rng.integers(0, 4, size=len(x_test))
    encoder = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16)])
    result = linear_probe(encoder, x_train, y_train, x_test, y_test)
    assert result["accuracy"] < 0.4


def test_identity_encoder_matches_pixel_baseline():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=240)
    images = rng.integers(0, 120, size=(240, 8, 8)).astype("uint8")
    for label in range(3):  # each class slightly brightens one band of rows
        images[y == label, 2 * label : 2 * label + 3] += 15
    flat = images.reshape(240, -1).astype("float32") / 255.0
    encoder = keras.Sequential([keras.Input((64,)), keras.layers.Identity()])
    probe = linear_probe(encoder, flat[:160], y[:160], flat[160:], y[160:], C=0.5)
    pixels = pixel_logistic_regression(
        images[:160], y[:160], images[160:], y[160:], C=0.5
    )
    assert probe == pixels
    assert 0.5 < probe["accuracy"] < 1.0  # informative, not saturated


def test_precomputed_features_skip_the_encoder(blobs):
    x_train, y_train, x_test, y_test = blobs
    encoder = keras.Sequential([keras.Input((8,)), keras.layers.Dense(5)])
    features = (embed(encoder, x_train), embed(encoder, x_test))
    expected = linear_probe(encoder, x_train, y_train, x_test, y_test)
    result = linear_probe(None, None, y_train, None, y_test, features=features)
    assert result == expected


@pytest.mark.parametrize(
    "y_train, match",
    [
        (
            np.zeros((300, 1), "int64"),
            r"`y_train` must be a 1-D array.*shape=\(300, 1\)",
        ),
        (np.zeros(300, "float32"), r"`y_train` must be a 1-D array.*dtype=float32"),
        (np.zeros(299, "int64"), r"len\(x_train\)=300, len\(y_train\)=299"),
        (np.zeros(300, "int64"), r"`y_train` must contain at least 2 classes"),
    ],
)
def test_invalid_labels_raise(blobs, y_train, match):
    x_train, _, x_test, y_test = blobs
    with pytest.raises(ValueError, match=match):
        linear_probe(lambda x: x, x_train, y_train, x_test, y_test)


def test_invalid_features_raise(blobs):
    _, y_train, _, y_test = blobs
    f_train = np.zeros((300, 4), "float32")
    with pytest.raises(ValueError, match="Argument `features` must be a tuple"):
        linear_probe(None, None, y_train, None, y_test, features=f_train)
    with pytest.raises(ValueError, match="two non-empty 2-D arrays"):
        linear_probe(
            None, None, y_train, None, y_test, features=(f_train, np.zeros(100))
        )
    with pytest.raises(ValueError, match="same dimension"):
        linear_probe(
            None, None, y_train, None, y_test, features=(f_train, np.zeros((100, 3)))
        )
    with pytest.raises(ValueError, match=r"len\(features\[1\]\)=99"):
        linear_probe(
            None, None, y_train, None, y_test, features=(f_train, np.zeros((99, 4)))
        )
