"""Cross-replica helpers for `tf.distribute` (a leaf: imports no keras_ssl).

Every place that sums, averages, gathers or assigns across the replicas of
a strategy goes through these functions; without a strategy (or with one
replica) each is the plain single-device operation.
"""

import tensorflow as tf
from keras import ops


def replica_context():
    """The replica context of a strategy with 2+ replicas, else `None`."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync < 2:
        return None
    return context


def num_replicas():
    """Number of replicas in sync (1 without a strategy)."""
    context = replica_context()
    return 1 if context is None else context.num_replicas_in_sync


def global_sum(value):
    """Sums `value` over all replicas (identity without a strategy)."""
    context = replica_context()
    if context is None:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def global_mean(value_sum, count):
    """This replica's share of a mean over the global batch.

    `value_sum` is the sum of a per-example quantity on this replica and
    `count` the number of examples it sums over; the shares of all replicas
    add up to the global mean. Objectives with several terms normalised by
    different counts (MLM + NSP, generator + discriminator) add their
    `global_mean`s and return `count=None` from `compute_objective`.

    Example:

    >>> float(global_mean(ops.convert_to_tensor(6.0), 3))
    2.0
    """
    value_sum = ops.cast(value_sum, "float32")
    count = ops.cast(ops.stop_gradient(count), "float32")
    return value_sum / ops.maximum(global_sum(count), 1.0)


def gather_from_replicas(value):
    """Concatenates `value` from all replicas along axis 0.

    Returns `(gathered, offset)` where `offset` is the index of this
    replica's first row in `gathered`. Gradients flow back to this replica's
    rows. Without a strategy, returns `(value, 0)`.
    """
    context = replica_context()
    if context is None:
        return value, 0
    gathered = context.all_gather(value, axis=0)
    offset = context.replica_id_in_sync_group * ops.shape(value)[0]
    return gathered, offset


def assign_on_every_replica(updates):
    """Assigns `(variable, value)` pairs whose values agree on every replica.

    State that is not trained by the optimizer but updated in the train step
    from values every replica computes alike (an EMA target network, a queue
    of keys gathered from all replicas) cannot be assigned directly in a
    replica context of a multi-replica strategy: a mirrored variable needs an
    aggregation for that, and integer variables have none. This applies the
    updates from the cross-replica context instead, each replica writing its
    own (identical) value to its own copy. Without a strategy, or with one
    replica, it is a plain `assign`.

    Args:
        updates: list of `(variable, value)` pairs.
    """
    updates = list(updates)
    context = tf.distribute.get_replica_context()
    in_cross_replica = tf.distribute.in_cross_replica_context()
    if in_cross_replica or context is None or context.num_replicas_in_sync < 2:
        for variable, value in updates:
            variable.assign(value)
        return

    def merge(strategy, pairs):
        for variable, value in pairs:
            strategy.extended.update(
                variable, lambda v, x: v.assign(x), args=(value,), group=False
            )

    # The `tf.Variable` under each Keras variable: the strategy updates
    # distributed variables component by component.
    tf_updates = [(getattr(v, "value", v), x) for v, x in updates]
    context.merge_call(merge, args=(tf_updates,))
