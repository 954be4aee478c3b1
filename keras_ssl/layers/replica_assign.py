"""Assigning replica-identical values to variables under `tf.distribute`."""

import tensorflow as tf


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
