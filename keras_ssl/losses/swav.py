"""SwAV: Sinkhorn-Knopp cluster assignments and the swapped-prediction loss."""

from keras import ops

from keras_ssl.checks import check_int_range, check_positive
from keras_ssl.cross_replica import gather_from_replicas, global_sum


def _divide(x, y):
    """`x / y`, with 0 where `y` is 0 (a prototype whose every entry
    underflowed to 0 then stays 0 instead of turning NaN)."""
    return x / ops.where(y > 0, y, ops.ones_like(y))


def _check_scores(name, scores):
    shape = tuple(getattr(scores, "shape", ()))
    if len(shape) != 2:
        raise ValueError(
            f"Argument `{name}` must be a 2-D tensor of shape (batch, "
            f"num_prototypes). Received: {name}.shape={shape}"
        )
    return shape


def sinkhorn(scores, epsilon=0.05, iterations=3, queue_scores=None, queue_weight=1.0):
    """Sinkhorn-Knopp: an equipartitioned soft assignment of examples to prototypes.

    Solves the entropy-regularised transport problem of SwAV: the plan
    `Q ∝ exp(scores / epsilon)`, rescaled alternately so that every
    prototype receives `1/K` of the mass and every example holds `1/B`
    (K prototypes, B examples). The sums run over the *global* batch: under
    a `tf.distribute` strategy each replica passes its own rows and the
    row and column sums are added across replicas, so N replicas compute
    exactly the plan one device computes on the whole batch.

    Extra rows `queue_scores` (a queue of earlier batches' scores, the same
    on every replica) take part in the sums once, not once per replica;
    `queue_weight` (0 or 1, may be a tensor) switches them off without
    changing shapes, e.g. until the queue is full. Their rows of the plan
    are not returned.

    The input is treated as a constant (no gradient flows through the plan).

    Args:
        scores: `(b, K)` similarities of this replica's examples to the
            prototypes (cosine similarities in SwAV).
        epsilon: float > 0, the entropic regularisation (smaller is
            sharper).
        iterations: int >= 1, Sinkhorn-Knopp iterations (each rescales the
            prototype sums, then the example sums).
        queue_scores: optional `(n, K)` rows shared by every replica.
        queue_weight: 1 to use `queue_scores`, 0 to ignore them.

    Returns:
        `(b, K)` float32 plan: each row sums to `1/B` (exactly), each
        column, summed over the global batch and the queue, to about `1/K`
        (closer with more iterations). Multiply by `B` for per-example
        codes (rows summing to 1): see `swav_codes`.

    Example:

    >>> plan = sinkhorn(keras.random.normal((8, 4)), epsilon=0.05, iterations=3)
    >>> plan.shape
    TensorShape([8, 4])

    Reference:
        [Cuturi, 2013](https://arxiv.org/abs/1306.0895),
        [Caron et al., 2020](https://arxiv.org/abs/2006.09882)
    """
    plan, _ = _sinkhorn(scores, epsilon, iterations, queue_scores, queue_weight)
    return plan


def _sinkhorn(scores, epsilon, iterations, queue_scores, queue_weight):
    """`(plan, B)`: the plan of `sinkhorn` and the global number of rows."""
    epsilon = check_positive("epsilon", epsilon)
    iterations = check_int_range("iterations", iterations, 1)
    _, num_prototypes = _check_scores("scores", scores)
    scores = ops.stop_gradient(ops.cast(scores, "float32"))
    if queue_scores is None:
        queue_scores = ops.zeros((0, num_prototypes), "float32")
        queue_weight = 0.0
    else:
        if _check_scores("queue_scores", queue_scores)[1] != num_prototypes:
            raise ValueError(
                "Arguments `scores` and `queue_scores` must have the same number "
                f"of prototypes. Received: scores.shape={tuple(scores.shape)}, "
                f"queue_scores.shape={tuple(queue_scores.shape)}"
            )
        queue_scores = ops.stop_gradient(ops.cast(queue_scores, "float32"))
    queue_weight = ops.stop_gradient(ops.cast(queue_weight, "float32"))

    # Shift by the global maximum before exp: the plan is unchanged (its
    # total is normalised first) and exp cannot overflow. Every replica
    # must use the same shift, hence the gather.
    local_max = ops.max(scores)
    if ops.shape(queue_scores)[0]:
        local_max = ops.maximum(local_max, ops.max(queue_scores))
    maxima, _ = gather_from_replicas(ops.reshape(local_max, (1,)))
    shift = ops.max(maxima)
    q = ops.exp((scores - shift) / epsilon)
    q_queue = ops.exp((queue_scores - shift) / epsilon)

    k = float(num_prototypes)
    b = ops.cast(ops.shape(scores)[0], "float32")
    n = ops.cast(ops.shape(queue_scores)[0], "float32")
    total_rows = global_sum(b) + queue_weight * n

    # The queue's rows are rescaled like the others, but their sums count
    # only with `queue_weight` (zeroing the rows themselves would make XLA,
    # which merges chained divisions, divide 0 by an underflowed 0).
    total = global_sum(ops.sum(q)) + queue_weight * ops.sum(q_queue)
    q = q / total
    q_queue = q_queue / total
    for _ in range(iterations):
        # Every prototype gets 1/K of the mass (summed over all rows).
        columns = global_sum(ops.sum(q, axis=0)) + queue_weight * ops.sum(
            q_queue, axis=0
        )
        q = _divide(q, columns * k)
        q_queue = _divide(q_queue, columns * k)
        # Every example holds 1/B.
        q = _divide(q, ops.sum(q, axis=1, keepdims=True) * total_rows)
        q_queue = _divide(q_queue, ops.sum(q_queue, axis=1, keepdims=True) * total_rows)
    return q, total_rows


def swav_codes(scores, epsilon=0.05, iterations=3, queue_scores=None, queue_weight=1.0):
    """Per-example soft codes: `sinkhorn`'s plan times the global batch size.

    Each row sums to 1 (a distribution over the prototypes) and, over the
    global batch, every prototype is used about equally. The codes are
    constants: no gradient flows through them.

    Args:
        scores, epsilon, iterations, queue_scores, queue_weight: see
            `sinkhorn`.

    Returns:
        `(b, K)` float32 codes.

    Example:

    >>> codes = swav_codes(keras.random.normal((8, 4)))
    >>> keras.ops.sum(codes, axis=1).shape
    TensorShape([8])
    """
    plan, total_rows = _sinkhorn(
        scores, epsilon, iterations, queue_scores, queue_weight
    )
    return ops.stop_gradient(plan * total_rows)


def swapped_prediction(view_scores, codes, temperature=0.1):
    """The swapped-prediction loss of SwAV, one value per example.

    The code of view `g` (`codes[g]`, one for each of the first
    `len(codes)` views) must be predicted from every *other* view `v` by
    `softmax(view_scores[v] / temperature)`: the cross-entropy
    `-sum_k codes[g][k] * log softmax(view_scores[v] / temperature)[k]` is
    averaged over the `len(view_scores) - 1` other views, then over the
    codes.

    Args:
        view_scores: list of `V >= 2` tensors `(b, K)`: each view's
            similarities to the prototypes.
        codes: list of `1 <= G <= V` tensors `(b, K)`: the codes of the
            first `G` views (rows summing to 1; treated as constants).
        temperature: float > 0 of the prediction softmax.

    Returns:
        `(b,)` float32 per-example losses.

    Example:

    >>> scores = [keras.random.normal((8, 4)) for _ in range(4)]
    >>> codes = [swav_codes(s) for s in scores[:2]]
    >>> swapped_prediction(scores, codes, temperature=0.1).shape
    TensorShape([8])
    """
    temperature = check_positive("temperature", temperature)
    view_scores, codes = list(view_scores), list(codes)
    if len(view_scores) < 2:
        raise ValueError(
            "Argument `view_scores` must hold at least 2 views. Received: "
            f"{len(view_scores)} view(s)"
        )
    if not 1 <= len(codes) <= len(view_scores):
        raise ValueError(
            "Argument `codes` must hold between 1 and len(view_scores)="
            f"{len(view_scores)} codes (one per code view). Received: "
            f"{len(codes)} codes"
        )
    log_predictions = [
        ops.log_softmax(ops.cast(s, "float32") / temperature, axis=-1)
        for s in view_scores
    ]
    total = 0.0
    for g, code in enumerate(codes):
        code = ops.stop_gradient(ops.cast(code, "float32"))
        per_code = 0.0
        for v, log_p in enumerate(log_predictions):
            if v != g:
                per_code = per_code - ops.sum(code * log_p, axis=-1)
        total = total + per_code / (len(view_scores) - 1)
    return total / len(codes)


def swav_loss(
    view_scores,
    temperature=0.1,
    epsilon=0.05,
    sinkhorn_iterations=3,
    num_code_views=2,
):
    """SwAV's loss from the prototype scores of every view, one value per example.

    The codes of the first `num_code_views` views (the global crops) come
    from Sinkhorn-Knopp over the global batch (`swav_codes`); every other
    view predicts them (`swapped_prediction`). Models with a queue call the
    two functions themselves.

    Args:
        view_scores: list of `V >= 2` tensors `(b, K)`: similarities of each
            view's normalised projection to the normalised prototypes.
        temperature: float > 0 of the prediction softmax.
        epsilon: Sinkhorn-Knopp regularisation, > 0.
        sinkhorn_iterations: int >= 1.
        num_code_views: how many of the first views get codes (2 in SwAV).

    Returns:
        `(b,)` float32 per-example losses.

    Example:

    >>> scores = [keras.random.normal((8, 16)) for _ in range(2)]
    >>> swav_loss(scores).shape
    TensorShape([8])

    Reference:
        [Caron et al., 2020](https://arxiv.org/abs/2006.09882)
    """
    view_scores = list(view_scores)
    num_code_views = check_int_range(
        "num_code_views", num_code_views, 1, max(len(view_scores), 1)
    )
    codes = [
        swav_codes(view_scores[g], epsilon, sinkhorn_iterations)
        for g in range(num_code_views)
    ]
    return swapped_prediction(view_scores, codes, temperature)
