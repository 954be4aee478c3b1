"""NT-Xent, the normalized temperature-scaled cross-entropy of SimCLR."""

import keras
from keras import ops

from keras_ssl.checks import check_positive


def nt_xent_logits(
    view_1,
    view_2,
    temperature=0.1,
    keys_1=None,
    keys_2=None,
    offset=0,
):
    """Similarity logits and positive indices of the symmetric NT-Xent loss.

    Rows are the anchors `[view_1; view_2]` (local batch `b`, so `2b` rows);
    columns are the keys `[keys_1; keys_2]` (global batch `B`, so `2B`
    columns). Without a distribution strategy the keys are the views
    themselves. Each anchor's own column is masked out.

    Args:
        view_1: `(b, d)` embeddings of the first view.
        view_2: `(b, d)` embeddings of the second view.
        temperature: float > 0.
        keys_1: `(B, d)` first-view embeddings of the whole global batch
            (gathered across replicas), or `None` for `view_1`.
        keys_2: like `keys_1`, for the second view.
        offset: index of this replica's first example in the global batch.

    Returns:
        `(logits, positives)`: `(2b, 2B)` float logits and `(2b,)` int32
        column index of each anchor's positive.
    """
    check_positive("temperature", temperature)
    keys_1 = view_1 if keys_1 is None else keys_1
    keys_2 = view_2 if keys_2 is None else keys_2
    dtype = "float32"
    anchors = ops.concatenate([view_1, view_2], axis=0)
    keys = ops.concatenate([keys_1, keys_2], axis=0)
    anchors = ops.normalize(ops.cast(anchors, dtype), axis=-1)
    keys = ops.normalize(ops.cast(keys, dtype), axis=-1)
    logits = ops.matmul(anchors, ops.transpose(keys)) / temperature

    b = ops.shape(view_1)[0]
    global_b = ops.shape(keys_1)[0]
    local = ops.arange(b, dtype="int32") + ops.cast(offset, "int32")
    self_cols = ops.concatenate([local, local + global_b], axis=0)
    positives = ops.concatenate([local + global_b, local], axis=0)
    self_mask = ops.one_hot(self_cols, 2 * global_b, dtype=dtype)
    logits = logits - 1e9 * self_mask
    return logits, positives


def nt_xent(view_1, view_2, temperature=0.1, keys_1=None, keys_2=None, offset=0):
    """Symmetric NT-Xent loss, one value per example pair.

    For each pair `i`, the loss averages the two directions: view 1 of `i`
    must pick out view 2 of `i` among all other `2B - 1` embeddings in the
    (global) batch, and vice versa. Similarities are cosine similarities
    divided by `temperature`.

    Args:
        view_1: `(b, d)` embeddings of the first view.
        view_2: `(b, d)` embeddings of the second view.
        temperature: float > 0.
        keys_1, keys_2, offset: see `nt_xent_logits`; used under a
            distribution strategy to contrast against the global batch.

    Returns:
        `(b,)` float32 tensor of per-pair losses.

    Example:

    >>> z1 = keras.random.normal((8, 16))
    >>> z2 = z1 + 0.1 * keras.random.normal((8, 16))
    >>> nt_xent(z1, z2, temperature=0.5).shape
    TensorShape([8])

    Reference:
        [Chen et al., 2020](https://arxiv.org/abs/2002.05709)
    """
    logits, positives = nt_xent_logits(
        view_1, view_2, temperature, keys_1, keys_2, offset
    )
    per_anchor = ops.sparse_categorical_crossentropy(
        positives, logits, from_logits=True
    )
    b = ops.shape(view_1)[0]
    return 0.5 * (per_anchor[:b] + per_anchor[b:])


@keras.saving.register_keras_serializable(package="keras_ssl")
class NTXent(keras.losses.Loss):
    """Symmetric NT-Xent (normalized temperature-scaled cross-entropy) loss.

    Call it as `loss(view_1, view_2)` with two `(batch, dim)` embeddings of
    the same examples; it returns the mean over pairs (or per-pair values with
    `reduction=None`).

    Args:
        temperature: float > 0, divides the cosine similarities.
        reduction: Keras loss reduction. Defaults to `"sum_over_batch_size"`.
        name: loss name.

    Example:

    >>> loss = NTXent(temperature=0.2)
    >>> z1 = keras.random.normal((8, 16))
    >>> value = loss(z1, z1 + 0.01)

    Reference:
        [Chen et al., 2020](https://arxiv.org/abs/2002.05709)
    """

    def __init__(self, temperature=0.1, reduction="sum_over_batch_size", name=None):
        check_positive("temperature", temperature)
        super().__init__(reduction=reduction, name=name or "nt_xent")
        self.temperature = float(temperature)

    def call(self, y_true, y_pred):
        return nt_xent(y_true, y_pred, temperature=self.temperature)

    def get_config(self):
        config = super().get_config()
        config["temperature"] = self.temperature
        return config
