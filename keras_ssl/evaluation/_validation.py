"""Shared argument checks and the logistic-regression head of the protocols."""

import numpy as np


def check_labels(y, name):
    """Returns `y` as a 1-D integer array, or raises a `ValueError`."""
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"Argument `{name}` must be a 1-D array of integer class ids. "
            f"Received: {name} with shape={y.shape} and dtype={y.dtype}."
        )
    return y


def check_same_length(x, x_name, y, y_name):
    """Raises a `ValueError` unless `x` and `y` hold as many examples."""
    if len(x) != len(y):
        raise ValueError(
            f"Arguments `{x_name}` and `{y_name}` must have the same number of "
            f"examples. Received: len({x_name})={len(x)}, "
            f"len({y_name})={len(y)}."
        )


def check_features(features):
    """Returns `features` as two 2-D float32 arrays, or raises a `ValueError`."""
    if not isinstance(features, (tuple, list)) or len(features) != 2:
        raise ValueError(
            "Argument `features` must be a tuple `(features_train, features_test)`. "
            f"Received: features of type {type(features).__name__}."
        )
    arrays = tuple(np.asarray(f, dtype="float32") for f in features)
    for array in arrays:
        if array.ndim != 2 or not len(array):
            raise ValueError(
                "Argument `features` must hold two non-empty 2-D arrays "
                "(num_examples, dim). "
                f"Received: features with shapes "
                f"{tuple(a.shape for a in arrays)}."
            )
    if arrays[0].shape[1] != arrays[1].shape[1]:
        raise ValueError(
            "Argument `features` must hold train and test arrays of the same "
            f"dimension. Received: features with shapes "
            f"{tuple(a.shape for a in arrays)}."
        )
    return arrays


def fit_logistic_regression(x_train, y_train, x_test, y_test, standardize, C, max_iter):
    """Fits a multinomial logistic regression and returns top-1 test accuracy."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    num_classes = len(np.unique(y_train))
    if num_classes < 2:
        raise ValueError(
            "Argument `y_train` must contain at least 2 classes. "
            f"Received: y_train with {num_classes} class."
        )
    if standardize:
        scaler = StandardScaler().fit(x_train)
        x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    classifier = LogisticRegression(C=C, max_iter=max_iter, solver="lbfgs")
    classifier.fit(x_train, y_train)
    return float(np.mean(classifier.predict(x_test) == y_test))
