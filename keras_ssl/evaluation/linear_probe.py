from keras_ssl.checks import check_labels, check_same_length
from keras_ssl.evaluation import _validation
from keras_ssl.evaluation.embed import embed, embed_pair, is_stream


def linear_probe(
    encoder,
    x_train,
    y_train,
    x_test,
    y_test,
    batch_size=256,
    max_iter=1000,
    C=1.0,
    features=None,
    preprocess=None,
):
    """Linear-probe accuracy of a frozen encoder.

    Embeds both splits with the frozen encoder (`training=False`), standardizes
    the embeddings with statistics of the training split, fits a multinomial
    logistic regression (L-BFGS) on the training split and reports top-1
    accuracy on the test split.

    Either split may be a stream (a `keras_ssl.datasets.StreamedData` or a
    batched `tf.data.Dataset` of `(x, y)`), its labels coming with it
    (`y_train` / `y_test` then `None`): it is embedded batch by batch and
    only its embeddings and labels are held in memory.

    Args:
        encoder: a `keras.Model` or callable mapping a batch of inputs to a
            2-D tensor `(batch, dim)`. Unused when `features` is given.
        x_train: training inputs, examples along the first axis, or a
            labelled stream.
        y_train: 1-D integer class ids of the training examples (`None`
            for a stream).
        x_test: test inputs, examples along the first axis, or a labelled
            stream.
        y_test: 1-D integer class ids of the test examples (`None` for a
            stream).
        batch_size: int, batch size of the forward passes.
        max_iter: int, maximum number of L-BFGS iterations.
        C: float, inverse strength of the L2 penalty of the classifier.
        features: optional tuple `(features_train, features_test)` of
            precomputed 2-D embeddings; when given, `encoder`, `x_train` and
            `x_test` are not used.
        preprocess: streams only: a function of a batch of inputs
            returning the encoder's inputs (default: the images of a
            `StreamedData` scaled to `[0, 1]`; see `embed`).

    Returns:
        A dict with keys `"accuracy"` (float in [0, 1]), `"num_train"`,
        `"num_test"` and `"dim"` (embedding size).

    Example:

    >>> x_train = np.repeat(np.eye(4, dtype="float32"), 10, axis=0)
    >>> y_train = np.repeat(np.arange(4), 10)
    >>> x_test, y_test = x_train[::10], y_train[::10]
    >>> encoder = keras.Sequential([keras.layers.Dense(16, activation="relu")])
    >>> result = linear_probe(encoder, x_train, y_train, x_test, y_test)
    >>> result["num_train"], result["num_test"], result["dim"]
    (40, 4, 16)

    Reference:
        - [Zhang et al., 2016](https://arxiv.org/abs/1603.08511) and
          [Chen et al., 2020](https://arxiv.org/abs/2002.05709) (linear
          evaluation protocol).
    """
    if features is None and (is_stream(x_train) or is_stream(x_test)):
        features, y_train, y_test = embed_pair(
            encoder,
            (x_train, y_train, "train"),
            (x_test, y_test, "test"),
            batch_size,
            preprocess,
        )
    y_train = check_labels("y_train", y_train)
    y_test = check_labels("y_test", y_test)
    if features is None:
        check_same_length("x_train", x_train, "y_train", y_train)
        check_same_length("x_test", x_test, "y_test", y_test)
        f_train = embed(encoder, x_train, batch_size=batch_size)
        f_test = embed(encoder, x_test, batch_size=batch_size)
    else:
        f_train, f_test = _validation.check_features(features)
        check_same_length("features[0]", f_train, "y_train", y_train)
        check_same_length("features[1]", f_test, "y_test", y_test)
    accuracy = _validation.fit_logistic_regression(
        f_train, y_train, f_test, y_test, standardize=True, C=C, max_iter=max_iter
    )
    return {
        "accuracy": accuracy,
        "num_train": len(y_train),
        "num_test": len(y_test),
        "dim": f_train.shape[1],
    }
