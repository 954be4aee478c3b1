"""`SSLModel`: the one training loop every self-supervised method shares."""

import copy
import warnings

import keras
import tensorflow as tf
from keras import ops

from keras_ssl.compat import in_multi_worker_mode, scale_loss_for_distribution

# Re-exported: the cross-replica helpers used to live here.
from keras_ssl.cross_replica import (  # noqa: F401
    gather_from_replicas,
    global_mean,
    global_sum,
    num_replicas,
)

_SEED_STATE_KEY = "seed_generator_state_"


def _multi_worker(strategy):
    """Whether Keras treats `strategy` as multi-worker (as its trainer does)."""
    return isinstance(
        strategy, tf.distribute.MultiWorkerMirroredStrategy
    ) and in_multi_worker_mode(strategy)


@keras.saving.register_keras_serializable(package="keras_ssl")
class SSLModel(keras.Model):
    """Base class of the self-supervised models: owns `train_step`.

    A method subclasses `SSLModel` and implements `compute_objective`,
    returning the *sum* of its per-example losses on this replica's batch, the
    number of examples (or predicted tokens) they are summed over, and a dict
    of tensors for its metrics. An objective made of several means over
    different counts returns the sum of their `global_mean`s and
    `count=None`. The base class turns that into the mean over
    the *global* batch (so a run on N replicas computes the same loss and
    gradients as one device on the same global batch), scales it for mixed
    precision through the optimizer, applies gradients, calls
    `after_train_step` (EMA targets, queues) and updates the metrics, whose
    names are stable snake_case (`loss` plus the method's own).

    `model(x)` returns the encoder's representation, so `predict`, probes and
    export use the learned encoder; `model.encoder` is the encoder as its own
    `keras.Model`.

    Args:
        encoder: a `keras.Model`.
        **kwargs: passed to `keras.Model`.
    """

    def __init__(self, encoder, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(encoder, keras.Model):
            raise ValueError(
                "Argument `encoder` must be a keras.Model. "
                f"Received: encoder={encoder!r} of type {type(encoder).__name__}"
            )
        self.encoder = encoder
        self.loss_tracker = keras.metrics.Mean(name="loss")
        # Collapse diagnostics (opt-in, e.g. `TwoViewModel(collapse_metrics=
        # True)`): updated from `outputs["collapse_embeddings"]`.
        self.diagnostics = []

    # Hooks for subclasses -------------------------------------------------

    def compute_objective(self, inputs, training=False):
        """Returns `(loss_sum, count, outputs)` for this replica's batch."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement compute_objective()."
        )

    def method_metrics(self):
        """The method's own `keras.metrics` objects (besides `loss`)."""
        return []

    def update_method_metrics(self, outputs):
        """Updates `method_metrics()` from the `outputs` of the objective."""

    def after_train_step(self):
        """Runs after each optimizer step (EMA targets, queues)."""

    # The shared loop ------------------------------------------------------

    @property
    def metrics(self):
        return [self.loss_tracker, *self.method_metrics(), *self.diagnostics]

    def unpack_inputs(self, data):
        """Drops labels and sample weights: the pretext needs inputs only."""
        if isinstance(data, tuple | list):
            return data[0]
        return data

    def _objective(self, data, training):
        inputs = self.unpack_inputs(data)
        loss_sum, count, outputs = self.compute_objective(inputs, training=training)
        if count is None:
            # `loss_sum` is already this replica's share of the global mean:
            # give each replica weight 1/N so the shares add up unchanged.
            count = 1.0 / num_replicas()
        count = ops.cast(ops.stop_gradient(count), "float32")
        loss_sum = ops.cast(loss_sum, "float32")
        # Mean over the global batch: the optimizer sums replica gradients.
        loss = loss_sum / ops.maximum(global_sum(count), 1.0)
        if self.losses:
            loss = loss + scale_loss_for_distribution(ops.sum(self.losses))
        return loss, loss_sum, count, outputs

    def _update_trackers(self, loss_sum, count, outputs):
        safe_count = ops.where(count > 0, count, 1.0)
        self.loss_tracker.update_state(loss_sum / safe_count, sample_weight=count)
        self.update_method_metrics(outputs)
        for metric in self.diagnostics:
            metric.update_state(ops.stop_gradient(outputs["collapse_embeddings"]))
        logs = {m.name: m.result() for m in self.metrics}
        if _multi_worker(tf.distribute.get_strategy()):
            # Keras (3.15) reduces step outputs across workers with
            # `strategy.reduce("MEAN", v, axis=0)`, which fails on scalars
            # (tensorflow/tensorflow#72388): give them an axis of length 1.
            logs = {name: ops.expand_dims(v, 0) for name, v in logs.items()}
        return logs

    def train_step(self, data):
        with tf.GradientTape() as tape:
            loss, loss_sum, count, outputs = self._objective(data, training=True)
            scaled = self.optimizer.scale_loss(loss)
        variables = self.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        self.after_train_step()
        return self._update_trackers(loss_sum, count, outputs)

    def test_step(self, data):
        _, loss_sum, count, outputs = self._objective(data, training=False)
        return self._update_trackers(loss_sum, count, outputs)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras (3.15) MEAN-reduces the first batch across the replicas only
        # to learn its shapes; across workers that is a collective
        # all-reduce, which has no kernel for uint8 images or strings. Take
        # this worker's first replica's batch instead. (This overrides a
        # private `keras.Model` method; `tests/compat_test.py` checks that
        # it still exists.)
        strategy = self.distribute_strategy
        if iterator is not None and _multi_worker(strategy):
            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(
                    lambda v: strategy.experimental_local_results(v)[0], next(it)
                )
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    # Saving ---------------------------------------------------------------

    #: Names of `SeedGenerator`s a subclass added after its files were first
    #: written; a `.keras` file without their states still restores the
    #: others, and these start from their seeds.
    added_seed_generators = ()

    def _seed_states(self):
        return [v for v in self.variables if v.path.endswith("seed_generator_state")]

    def save_own_variables(self, store):
        """Also saves the state of every `SeedGenerator` in the model.

        Keras saves weights and optimizer variables but not random-number
        state; without it a reloaded model replays the augmentations and
        masks of its first steps instead of continuing the sequence.
        """
        super().save_own_variables(store)
        for i, state in enumerate(self._seed_states()):
            store[f"{_SEED_STATE_KEY}{i}"] = state

    def load_own_variables(self, store):
        keys = list(store.keys())
        own = {k: store[k] for k in keys if not k.startswith(_SEED_STATE_KEY)}
        super().load_own_variables(own)
        saved = [k for k in keys if k.startswith(_SEED_STATE_KEY)]
        states = self._seed_states()
        if not saved:  # a file written before seed states were saved
            return
        if len(saved) != len(states):
            # A file written before the model gained a generator: restore
            # the others (same relative order) and start the new ones fresh.
            older = [
                s
                for s in states
                if s.path.split("/")[0] not in self.added_seed_generators
            ]
            if len(older) < len(states) and len(saved) == len(older):
                states = older
        if len(saved) != len(states):
            warnings.warn(
                f"{type(self).__name__}: the file holds {len(saved)} random "
                f"generator states, the model has {len(states)}; keeping fresh "
                "ones (augmentations and masks restart from their seeds).",
                stacklevel=2,
            )
            return
        for i, state in enumerate(states):
            state.assign(store[f"{_SEED_STATE_KEY}{i}"])

    def build(self, input_shape=None):
        # Every sub-layer is built in __init__, so optimizers see all the
        # variables before compile: nothing is left to build here.
        self.built = True

    def get_config(self):
        config = super().get_config()
        config["encoder"] = keras.saving.serialize_keras_object(self.encoder)
        return config

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)
