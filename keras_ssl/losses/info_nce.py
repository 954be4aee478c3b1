"""InfoNCE contrastive loss with in-batch and optional queued negatives."""

import keras
from keras import ops

from keras_ssl.checks import check_embedding_pair, check_embeddings, check_positive


def info_nce(query, key, negatives=None, temperature=0.07):
    """InfoNCE loss, one value per query.

    Query `i` must pick out its own key `key[i]` among all keys of the batch
    (the other keys are its in-batch negatives) and, when given, the extra
    `negatives` (for example a MoCo queue of past keys). Logits are cosine
    similarities divided by `temperature`:

    `loss_i = -log(exp(s(q_i, k_i) / t) / sum_{c in keys + negatives}
    exp(s(q_i, c) / t))`

    No stop-gradient is applied: wrap `key` (and `negatives`) in
    `keras.ops.stop_gradient` when they come from a target / momentum
    encoder that must not be trained by this loss.

    Args:
        query: `(batch, dim)` query embeddings.
        key: `(batch, dim)` key embeddings; `key[i]` is the positive of
            `query[i]`.
        negatives: optional `(K, dim)` extra negative embeddings shared by
            all queries, or `None`.
        temperature: float > 0, divides the cosine similarities.

    Returns:
        `(batch,)` float32 tensor of per-query losses.

    Example:

    >>> q = keras.random.normal((8, 16))
    >>> k = q + 0.1 * keras.random.normal((8, 16))
    >>> queue = keras.random.normal((32, 16))
    >>> info_nce(q, k, negatives=queue).shape
    TensorShape([8])

    Reference:
        [van den Oord et al., 2018](https://arxiv.org/abs/1807.03748),
        [He et al., 2020 (MoCo)](https://arxiv.org/abs/1911.05722)
    """
    check_positive("temperature", temperature)
    check_embedding_pair("query", query, "key", key)
    query = ops.normalize(ops.cast(query, "float32"), axis=-1)
    candidates = ops.cast(key, "float32")
    if negatives is not None:
        check_embeddings("negatives", negatives)
        query_dim, negatives_dim = ops.shape(query)[1], ops.shape(negatives)[1]
        if (
            isinstance(query_dim, int)
            and isinstance(negatives_dim, int)
            and query_dim != negatives_dim
        ):
            raise ValueError(
                "Argument `negatives` must have the same embedding size as "
                f"`query` ({query_dim}). "
                f"Received: negatives.shape={tuple(ops.shape(negatives))}"
            )
        negatives = ops.cast(negatives, "float32")
        candidates = ops.concatenate([candidates, negatives], axis=0)
    candidates = ops.normalize(candidates, axis=-1)
    logits = ops.matmul(query, ops.transpose(candidates)) / temperature
    positives = ops.arange(ops.shape(query)[0], dtype="int32")
    return ops.sparse_categorical_crossentropy(positives, logits, from_logits=True)


@keras.saving.register_keras_serializable(package="keras_ssl")
class InfoNCE(keras.losses.Loss):
    """InfoNCE loss: each query must identify its own key.

    Following the Keras `loss(y_true, y_pred)` convention, call it as
    `loss(key, query)`, or `loss((key, negatives), query)` to add a `(K, dim)`
    set of extra negatives (a MoCo queue). It computes
    `info_nce(query=y_pred, key=..., negatives=..., temperature=...)` and
    returns the mean over queries (or per-query values with `reduction=None`).

    Args:
        temperature: float > 0, divides the cosine similarities.
        reduction: Keras loss reduction. Defaults to `"sum_over_batch_size"`.
        name: loss name.

    Example:

    >>> loss = InfoNCE(temperature=0.2)
    >>> q = keras.random.normal((8, 16))
    >>> queue = keras.random.normal((32, 16))
    >>> value = loss((q + 0.1, queue), q)

    Reference:
        [van den Oord et al., 2018](https://arxiv.org/abs/1807.03748),
        [He et al., 2020 (MoCo)](https://arxiv.org/abs/1911.05722)
    """

    def __init__(self, temperature=0.07, reduction="sum_over_batch_size", name=None):
        check_positive("temperature", temperature)
        super().__init__(reduction=reduction, name=name or "info_nce")
        self.temperature = float(temperature)

    def call(self, y_true, y_pred):
        if isinstance(y_true, tuple | list):
            if len(y_true) != 2:
                raise ValueError(
                    "`y_true` must be `key` or a pair `(key, negatives)`. "
                    f"Received: a sequence of length {len(y_true)}"
                )
            key, negatives = y_true
        else:
            key, negatives = y_true, None
        return info_nce(y_pred, key, negatives=negatives, temperature=self.temperature)

    def get_config(self):
        config = super().get_config()
        config["temperature"] = self.temperature
        return config
