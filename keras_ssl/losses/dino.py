"""The DINO loss: self-distillation of a centred, sharpened teacher."""

from keras import ops

from keras_ssl.checks import check_fraction, check_positive
from keras_ssl.cross_replica import global_sum


def _logit_list(name, logits):
    if not isinstance(logits, list | tuple) or not logits:
        raise ValueError(
            f"Argument `{name}` must be a non-empty list of (batch, dim) "
            f"logits, one per view. Received: {name} of type "
            f"{type(logits).__name__}"
        )
    return [ops.cast(x, "float32") for x in logits]


def dino_teacher_probabilities(teacher_logits, center, temperature=0.04):
    """The teacher's targets: `softmax((teacher_logits - center) / temperature)`.

    Centering (subtracting a running mean of the teacher's outputs) keeps
    one prototype from dominating; a low temperature sharpens the targets
    so that they do not collapse to the uniform distribution. The result
    carries no gradient.

    Args:
        teacher_logits: `(batch, dim)` teacher outputs of one view.
        center: `(dim,)` or `(1, dim)` running mean of the teacher outputs
            (`None` for none).
        temperature: float > 0, or a scalar tensor (a warm-up schedule).

    Returns:
        `(batch, dim)` float32 probabilities.
    """
    logits = ops.cast(teacher_logits, "float32")
    if center is not None:
        logits = logits - ops.reshape(ops.cast(center, "float32"), (1, -1))
    probabilities = ops.softmax(logits / ops.cast(temperature, "float32"), axis=-1)
    return ops.stop_gradient(probabilities)


def dino_loss(
    student_logits,
    teacher_logits,
    center=None,
    student_temperature=0.1,
    teacher_temperature=0.04,
):
    """The DINO cross-entropy between teacher and student views, per example.

    View `i` of the teacher (a global crop) gives the target
    `q_i = softmax((t_i - center) / teacher_temperature)`; every *other*
    view `j` of the student must predict it with
    `p_j = softmax(s_j / student_temperature)`. The loss of an image is the
    mean of `-sum_k q_i[k] log p_j[k]` over the pairs `(i, j)` with
    `j != i`: with 2 global and `L` local views that is `2 * (2 + L) - 2`
    pairs, each global view predicting the other and every local view
    predicting both.

    Args:
        student_logits: list of `V` `(batch, dim)` student outputs, one per
            view; the first `G` are the views the teacher saw, in the same
            order (`MultiCrop`'s global crops come first).
        teacher_logits: list of `G <= V` `(batch, dim)` teacher outputs.
        center: `(dim,)` or `(1, dim)` centre of the teacher outputs (see
            `dino_center_update`), or `None`.
        student_temperature: float > 0.
        teacher_temperature: float > 0 (or a scalar tensor).

    Returns:
        `(batch,)` float32 per-example losses.

    Example:

    >>> students = [keras.random.normal((4, 16)) for _ in range(4)]
    >>> teachers = [keras.random.normal((4, 16)) for _ in range(2)]
    >>> dino_loss(students, teachers).shape
    TensorShape([4])

    Reference:
        [Caron et al., 2021](https://arxiv.org/abs/2104.14294)
    """
    check_positive("student_temperature", student_temperature)
    if isinstance(teacher_temperature, int | float):
        check_positive("teacher_temperature", teacher_temperature)
    students = _logit_list("student_logits", student_logits)
    teachers = _logit_list("teacher_logits", teacher_logits)
    num_views, num_teacher = len(students), len(teachers)
    if num_teacher > num_views or num_views < 2:
        raise ValueError(
            "DINO needs at least 2 student views and no more teacher views "
            "than student views (the teacher's views are the students' first "
            f"ones). Received: {num_views} student and {num_teacher} teacher "
            "views"
        )
    targets = ops.stack(
        [dino_teacher_probabilities(t, center, teacher_temperature) for t in teachers]
    )
    log_predictions = ops.stack(
        [ops.log_softmax(s / student_temperature, axis=-1) for s in students]
    )
    # (teacher view, student view, example) cross-entropies.
    cross_entropy = -ops.einsum("gbk,vbk->gvb", targets, log_predictions)
    # A view is never its own target.
    other = 1.0 - ops.eye(num_teacher, num_views, dtype="float32")
    num_pairs = num_teacher * num_views - num_teacher
    return ops.sum(cross_entropy * other[:, :, None], axis=(0, 1)) / num_pairs


def dino_center_update(center, teacher_logits, momentum=0.9):
    """The next centre: an EMA of the teacher outputs' mean over the global batch.

    `momentum * center + (1 - momentum) * mean(teacher_logits)`, the mean
    over every row of every teacher view on every replica (the sums and the
    row count are added across replicas, so N replicas give the same centre
    as one device on the same global batch).

    Args:
        center: `(1, dim)` current centre.
        teacher_logits: a `(n, dim)` tensor or a list of them (one per
            teacher view) on this replica.
        momentum: float in `[0, 1]`.

    Returns:
        The new `(1, dim)` float32 centre (no gradient).

    Example:

    >>> center = keras.ops.zeros((1, 4))
    >>> new = dino_center_update(center, keras.ops.ones((8, 4)), momentum=0.9)
    >>> round(float(new[0, 0]), 6)
    0.1
    """
    check_fraction("momentum", momentum)
    if isinstance(teacher_logits, list | tuple):
        teacher_logits = ops.concatenate(list(teacher_logits), axis=0)
    logits = ops.stop_gradient(ops.cast(teacher_logits, "float32"))
    total = global_sum(ops.sum(logits, axis=0, keepdims=True))
    count = global_sum(ops.cast(ops.shape(logits)[0], "float32"))
    batch_center = total / ops.maximum(count, 1.0)
    center = ops.reshape(ops.cast(center, "float32"), (1, -1))
    return momentum * center + (1.0 - momentum) * batch_center
