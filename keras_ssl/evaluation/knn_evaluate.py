import numbers

import numpy as np

from keras_ssl.checks import check_labels, check_same_length
from keras_ssl.evaluation import _validation
from keras_ssl.evaluation.embed import embed, embed_pair, is_stream


def knn_evaluate(
    encoder,
    x_bank,
    y_bank,
    x_query,
    y_query,
    k=(20, 200),
    temperature=0.07,
    batch_size=256,
    features=None,
    preprocess=None,
):
    """Weighted k-nearest-neighbour accuracy of a frozen encoder.

    Embeds the bank and the queries with the frozen encoder
    (`training=False`), L2-normalises the embeddings and, for every query,
    takes its `k` most cosine-similar bank examples. Each neighbour votes for
    its class with weight `exp(similarity / temperature)`; the class with the
    largest total wins (ties go to the smallest class id). Queries are
    processed in chunks, so a 60k bank against 10k queries fits in memory.

    The bank and the queries may be streams (a `keras_ssl.datasets.
    StreamedData` or a batched `tf.data.Dataset` of `(x, y)`), their labels
    coming with them (`y_bank` / `y_query` then `None`): they are embedded
    batch by batch and only the embeddings and labels are held in memory.

    Args:
        encoder: a `keras.Model` or callable mapping a batch of inputs to a
            2-D tensor `(batch, dim)`. Unused when `features` is given.
        x_bank: inputs of the labelled bank (usually the training split),
            or a labelled stream.
        y_bank: 1-D integer class ids of the bank (`None` for a stream).
        x_query: inputs to classify (usually the test split), or a
            labelled stream.
        y_query: 1-D integer class ids of the queries (`None` for a
            stream).
        k: int or sequence of ints, the numbers of neighbours to evaluate.
        temperature: positive float, the temperature of the vote weights.
        batch_size: int, batch size of the forward passes.
        features: optional tuple `(features_bank, features_query)` of
            precomputed 2-D embeddings; when given, `encoder`, `x_bank` and
            `x_query` are not used.
        preprocess: streams only: a function of a batch of inputs
            returning the encoder's inputs (default: the images of a
            `StreamedData` scaled to `[0, 1]`; see `embed`).

    Returns:
        A dict with one key `"knn_accuracy@{k}"` per value of `k` and the key
        `"accuracy"`, the accuracy for the first value of `k`.

    Example:

    >>> x_train = np.repeat(np.eye(4, dtype="float32"), 10, axis=0)
    >>> y_train = np.repeat(np.arange(4), 10)
    >>> x_test, y_test = x_train[::10], y_train[::10]
    >>> encoder = keras.Sequential([keras.layers.Flatten()])
    >>> result = knn_evaluate(encoder, x_train, y_train, x_test, y_test, k=(1, 5))
    >>> result["knn_accuracy@1"], result["knn_accuracy@5"]
    (1.0, 1.0)

    Reference:
        - [Wu et al., 2018](https://arxiv.org/abs/1805.01978) (weighted kNN
          classifier, Section 3.4).
    """
    ks = (k,) if isinstance(k, (int, np.integer)) else tuple(k)
    if not ks or not all(
        isinstance(value, (int, np.integer)) and value > 0 for value in ks
    ):
        raise ValueError(
            "Argument `k` must be a positive int or a non-empty sequence of "
            f"positive ints. Received: k={k}."
        )
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, numbers.Real)
        or not temperature > 0
        or not np.isfinite(temperature)
    ):
        raise ValueError(
            "Argument `temperature` must be a positive float. "
            f"Received: temperature={temperature!r}."
        )
    if features is None and (is_stream(x_bank) or is_stream(x_query)):
        features, y_bank, y_query = embed_pair(
            encoder,
            (x_bank, y_bank, "bank"),
            (x_query, y_query, "query"),
            batch_size,
            preprocess,
        )
    y_bank = check_labels("y_bank", y_bank)
    y_query = check_labels("y_query", y_query)
    if features is None:
        check_same_length("x_bank", x_bank, "y_bank", y_bank)
        check_same_length("x_query", x_query, "y_query", y_query)
    if max(ks) > len(y_bank):
        raise ValueError(
            "Argument `k` must not exceed the number of bank examples. "
            f"Received: k={max(ks)} with a bank of {len(y_bank)} examples."
        )
    if features is None:
        f_bank = embed(encoder, x_bank, batch_size=batch_size)
        f_query = embed(encoder, x_query, batch_size=batch_size)
    else:
        f_bank, f_query = _validation.check_features(features)
        check_same_length("features[0]", f_bank, "y_bank", y_bank)
        check_same_length("features[1]", f_query, "y_query", y_query)
    predictions = _knn_predict(f_bank, y_bank, f_query, ks, temperature)
    result = {
        f"knn_accuracy@{value}": float(np.mean(predictions[value] == y_query))
        for value in ks
    }
    result["accuracy"] = result[f"knn_accuracy@{ks[0]}"]
    return result


def _l2_normalize(x):
    x = x.astype("float32", copy=False)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _knn_predict(f_bank, y_bank, f_query, ks, temperature, chunk_size=512):
    """Returns `{k: predicted class ids of the queries}`."""
    bank = _l2_normalize(f_bank)
    queries = _l2_normalize(f_query)
    classes, bank_labels = np.unique(y_bank, return_inverse=True)
    num_classes, k_max = len(classes), max(ks)
    predictions = {value: [] for value in ks}
    for start in range(0, len(queries), chunk_size):
        similarity = queries[start : start + chunk_size] @ bank.T
        rows = np.arange(len(similarity))[:, None]
        # The k_max nearest neighbours, then sorted by decreasing similarity.
        top = np.argpartition(-similarity, k_max - 1, axis=1)[:, :k_max]
        order = np.argsort(-similarity[rows, top], axis=1, kind="stable")
        top = top[rows, order]
        top_similarity = similarity[rows, top].astype("float64")
        # Subtracting the row maximum leaves the argmax of the votes unchanged
        # and keeps exp() finite for small temperatures.
        weights = np.exp((top_similarity - top_similarity[:, :1]) / temperature)
        for value in ks:
            index = rows * num_classes + bank_labels[top[:, :value]]
            votes = np.bincount(
                index.ravel(),
                weights=weights[:, :value].ravel(),
                minlength=len(similarity) * num_classes,
            ).reshape(len(similarity), num_classes)
            predictions[value].append(classes[np.argmax(votes, axis=1)])
    return {value: np.concatenate(predictions[value]) for value in ks}
