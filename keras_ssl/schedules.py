"""Learning-rate schedules (a leaf: imports no keras_ssl).

One schedule serves pretraining, fine-tuning and the hyperparameter searches:
linear warm-up from 0 to the peak learning rate, then cosine decay to
`alpha * learning_rate`.
"""

import keras

from keras_ssl.checks import check_fraction, check_int_range, check_positive


def warmup_cosine(learning_rate, total_steps, warmup_steps=0, alpha=0.0):
    """Linear warm-up then cosine decay, as a Keras `CosineDecay` schedule.

    Args:
        learning_rate: the peak learning rate, reached after the warm-up.
        total_steps: steps of the whole run (warm-up included).
        warmup_steps: steps of linear warm-up from 0 (0: start at the peak).
        alpha: the final learning rate as a fraction of the peak.

    Returns:
        A `keras.optimizers.schedules.CosineDecay` (serializable with the
        optimizer).

    Example:

    >>> schedule = warmup_cosine(1e-3, total_steps=100, warmup_steps=10)
    >>> [round(float(schedule(step)), 6) for step in (0, 5, 10, 100)]
    [0.0, 0.0005, 0.001, 0.0]
    """
    learning_rate = check_positive("learning_rate", learning_rate)
    total_steps = check_int_range("total_steps", total_steps, 1)
    warmup_steps = check_int_range("warmup_steps", warmup_steps, 0)
    alpha = check_fraction("alpha", alpha)
    return keras.optimizers.schedules.CosineDecay(
        0.0 if warmup_steps else learning_rate,
        decay_steps=max(total_steps - warmup_steps, 1),
        alpha=alpha,
        warmup_target=learning_rate if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


def capped_warmup_steps(total_steps, warmup_steps):
    """`warmup_steps`, but at most a fifth of `total_steps` (and at least 1).

    Pretraining warms up over 200 steps, or over the first fifth of a
    shorter run.

    >>> capped_warmup_steps(10_000, 200), capped_warmup_steps(100, 200)
    (200, 20)
    """
    return min(int(warmup_steps), max(int(total_steps) // 5, 1))
