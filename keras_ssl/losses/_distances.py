"""Distances and label masks shared by the triplet losses (private)."""

from keras import ops

from keras_ssl.checks import check_choice, check_embeddings

DISTANCES = ("euclidean", "squared_euclidean", "cosine")


def check_distance(distance):
    check_choice("distance", distance, sorted(DISTANCES))


def _safe_sqrt(x):
    """`sqrt(x)` with value 0 and a zero (not infinite) gradient at `x = 0`."""
    positive = x > 0
    return ops.where(positive, ops.sqrt(ops.where(positive, x, 1.0)), 0.0)


def paired_distance(a, b, distance):
    """Row-wise distance between `a[i]` and `b[i]`: `(batch,)`."""
    if distance == "cosine":
        a = ops.normalize(a, axis=-1)
        b = ops.normalize(b, axis=-1)
        return 1.0 - ops.sum(a * b, axis=-1)
    squared = ops.sum(ops.square(a - b), axis=-1)
    return squared if distance == "squared_euclidean" else _safe_sqrt(squared)


def pairwise_distance(x, distance):
    """Distance between every pair of rows of `x`: `(batch, batch)`.

    The diagonal is exactly 0. Computed in float32 (mixed precision).
    """
    x = ops.cast(x, "float32")
    off_diagonal = 1.0 - ops.eye(ops.shape(x)[0], dtype=x.dtype)
    if distance == "cosine":
        x = ops.normalize(x, axis=-1)
        return (1.0 - ops.matmul(x, ops.transpose(x))) * off_diagonal
    norms = ops.sum(ops.square(x), axis=-1)
    squared = norms[:, None] - 2.0 * ops.matmul(x, ops.transpose(x)) + norms[None, :]
    squared = ops.maximum(squared, 0.0) * off_diagonal
    return squared if distance == "squared_euclidean" else _safe_sqrt(squared)


def prepare_embeddings_and_labels(embeddings, labels):
    """Checks and flattens the inputs of the mining losses.

    Returns:
        `(embeddings, labels, positive_mask, negative_mask)`: float32
        `(batch, dim)` embeddings, `(batch,)` labels and two boolean
        `(batch, batch)` masks: same label and not the anchor itself, and
        different label.
    """
    check_embeddings("embeddings", embeddings)
    embeddings = ops.cast(embeddings, "float32")
    labels = ops.convert_to_tensor(labels)
    label_shape = tuple(ops.shape(labels))
    if len(label_shape) == 2 and label_shape[1] == 1:
        labels = ops.reshape(labels, (-1,))
    elif len(label_shape) != 1:
        raise ValueError(
            "Argument `labels` must have shape `(batch,)` or `(batch, 1)`. "
            f"Received: labels.shape={label_shape}"
        )
    batch, label_batch = ops.shape(embeddings)[0], ops.shape(labels)[0]
    if isinstance(batch, int) and isinstance(label_batch, int) and batch != label_batch:
        raise ValueError(
            "Arguments `labels` and `embeddings` must have the same batch size. "
            f"Received: labels.shape={label_shape}, "
            f"embeddings.shape={tuple(ops.shape(embeddings))}"
        )
    same = ops.equal(labels[:, None], labels[None, :])
    not_self = ops.logical_not(ops.eye(ops.shape(labels)[0], dtype="bool"))
    positive_mask = ops.logical_and(same, not_self)
    negative_mask = ops.logical_not(same)
    return embeddings, labels, positive_mask, negative_mask


def masked_max(x, mask, axis):
    """Max of `x` over `axis` where `mask`; the unmasked minimum where none."""
    fill = ops.min(x, axis=axis, keepdims=True)
    return ops.max(ops.where(mask, x, fill), axis=axis)


def masked_min(x, mask, axis):
    """Min of `x` over `axis` where `mask`; the unmasked maximum where none."""
    fill = ops.max(x, axis=axis, keepdims=True)
    return ops.min(ops.where(mask, x, fill), axis=axis)
