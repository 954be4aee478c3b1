import numpy as np
import pytest

from keras_ssl.evaluation import pixel_logistic_regression


def make_images(num_examples=240, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=num_examples)
    images = rng.integers(0, 120, size=(num_examples, 8, 8, 1)).astype("uint8")
    for label in range(3):  # each class brightens one band of rows
        images[y == label, 2 * label : 2 * label + 3] += 60
    return images[:160], y[:160], images[160:], y[160:]


def test_learns_separable_images():
    result = pixel_logistic_regression(*make_images())
    assert result["accuracy"] > 0.95
    assert (result["num_train"], result["num_test"], result["dim"]) == (160, 80, 64)


def test_uint8_images_are_scaled_to_unit_range():
    x_train, y_train, x_test, y_test = make_images()
    from_uint8 = pixel_logistic_regression(
        x_train, y_train, x_test, y_test, standardize=False
    )
    from_float = pixel_logistic_regression(
        x_train.astype("float32") / 255.0,
        y_train,
        x_test.astype("float32") / 255.0,
        y_test,
        standardize=False,
    )
    assert from_uint8 == from_float


def test_invalid_arguments_raise():
    x_train, y_train, x_test, y_test = make_images()
    with pytest.raises(ValueError, match=r"same shape per example.*\(80, 4, 16, 1\)"):
        pixel_logistic_regression(
            x_train, y_train, x_test.reshape(80, 4, 16, 1), y_test
        )
    with pytest.raises(ValueError, match=r"len\(x_test\)=80, len\(y_test\)=79"):
        pixel_logistic_regression(x_train, y_train, x_test, y_test[:-1])
    with pytest.raises(ValueError, match=r"at least 2 classes.*1 class"):
        pixel_logistic_regression(x_train, np.ones_like(y_train), x_test, y_test)
