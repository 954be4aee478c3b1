import numpy as np

from keras_ssl.checks import check_labels, check_same_length
from keras_ssl.evaluation import _validation


def pixel_logistic_regression(
    x_train, y_train, x_test, y_test, standardize=True, max_iter=1000, C=1.0
):
    """Raw-input baseline: logistic regression on flattened pixels.

    Images are flattened and scaled to [0, 1] (divided by 255 when the
    training images exceed 1, as 8-bit images do), optionally standardized
    with statistics of the training split, and classified with a multinomial
    logistic regression (L-BFGS). This is the number an image encoder's
    linear probe has to beat.

    Args:
        x_train: training images, shape `(num_examples, ...)`.
        y_train: 1-D integer class ids of the training images.
        x_test: test images, same trailing shape as `x_train`.
        y_test: 1-D integer class ids of the test images.
        standardize: bool, whether to standardize each pixel.
        max_iter: int, maximum number of L-BFGS iterations.
        C: float, inverse strength of the L2 penalty of the classifier.

    Returns:
        A dict with keys `"accuracy"` (float in [0, 1]), `"num_train"`,
        `"num_test"` and `"dim"` (number of pixels per image).

    Example:

    >>> x_train = np.repeat(255 * np.eye(4, dtype="uint8"), 10, axis=0)
    >>> x_train = x_train.reshape(40, 2, 2)
    >>> y_train = np.repeat(np.arange(4), 10)
    >>> x_test, y_test = x_train[::10], y_train[::10]
    >>> pixel_logistic_regression(x_train, y_train, x_test, y_test)["accuracy"]
    1.0

    Reference:
        - [Chen et al., 2020](https://arxiv.org/abs/2002.05709), Section B.6
          (linear evaluation; here applied to the raw input).
    """
    x_train, x_test = np.asarray(x_train), np.asarray(x_test)
    y_train = check_labels("y_train", y_train)
    y_test = check_labels("y_test", y_test)
    check_same_length("x_train", x_train, "y_train", y_train)
    check_same_length("x_test", x_test, "y_test", y_test)
    if x_train.shape[1:] != x_test.shape[1:]:
        raise ValueError(
            "Arguments `x_train` and `x_test` must have the same shape per example. "
            f"Received: x_train.shape={x_train.shape}, x_test.shape={x_test.shape}."
        )
    x_train = x_train.reshape(len(x_train), -1).astype("float32")
    x_test = x_test.reshape(len(x_test), -1).astype("float32")
    if x_train.size and x_train.max() > 1.0:
        x_train, x_test = x_train / 255.0, x_test / 255.0
    accuracy = _validation.fit_logistic_regression(
        x_train,
        y_train,
        x_test,
        y_test,
        standardize=standardize,
        C=C,
        max_iter=max_iter,
    )
    return {
        "accuracy": accuracy,
        "num_train": len(y_train),
        "num_test": len(y_test),
        "dim": x_train.shape[1],
    }
