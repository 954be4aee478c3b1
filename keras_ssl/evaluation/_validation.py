"""The features check and the logistic-regression head of the protocols
(the general checks are in `keras_ssl.checks`)."""

import numpy as np


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
