"""Every use of private Keras / TensorFlow API, in one place (a leaf module).

keras_ssl uses a few things Keras does not export publicly. They all live
here, each with a test (`tests/compat_test.py`), so a Keras upgrade that
moves one of them is a one-file change. The one use that cannot be a
function here is `SSLModel._maybe_symbolic_build`, an override of a private
`keras.Model` method (multi-worker input shapes); the compat tests check
that Keras still has that method.
"""

import contextlib
import random

import numpy as np


def scale_loss_for_distribution(loss):
    """Divides a per-replica loss by the number of replicas in sync.

    Keras's own `train_step` does this (`keras.src.losses.loss`); a custom
    `train_step` under `tf.distribute` must do the same so the summed
    gradients equal those of the global batch.
    """
    from keras.src.losses.loss import scale_loss_for_distribution as scale

    return scale(loss)


def safe_mode_scope(safe_mode=True):
    """Context manager that makes every nested `load_model` run in safe mode.

    `keras.saving.load_model(..., safe_mode=True)` only applies to the outer
    call; the scope also covers objects deserialized from inside (nested
    `from_config`), so a `.keras` file cannot smuggle a Python lambda in.
    """
    from keras.src.saving.serialization_lib import SafeModeScope

    return SafeModeScope(safe_mode)


def in_multi_worker_mode(strategy):
    """Whether a `tf.distribute` strategy spans several workers.

    What Keras's trainer asks a `MultiWorkerMirroredStrategy` before it
    reduces step outputs across workers (a private TensorFlow method).
    """
    return bool(strategy.extended._in_multi_worker_mode())


def flatten_layers(model, include_self=False):
    """Every layer nested in `model` (recursively), in Keras's own order."""
    return list(model._flatten_layers(include_self=include_self))


def set_initial_epoch(model, epoch):
    """Makes the next `model.fit` start at `epoch` (`None`: as asked by `fit`).

    This is what `keras.callbacks.BackupAndRestore` does on restore: `fit`
    reads the private `_initial_epoch` once its callbacks' `on_train_begin`
    ran.
    """
    model._initial_epoch = epoch


def _tf_global_seed():
    from tensorflow.python.eager import context

    return context.global_seed()


@contextlib.contextmanager
def seed_scope(seed):
    """Seeds every global generator for the block, then puts them back.

    Inside the block the effect is that of `keras.utils.set_random_seed(seed)`
    (Python's `random`, NumPy's global generator, TensorFlow's global seed and
    Keras's global `SeedGenerator`), so layers built there without their own
    seed get the same weights as under `set_random_seed`. On exit Python's
    and NumPy's global states and Keras's global seed generator are restored
    exactly, and TensorFlow's global seed is set back to its previous value:
    a library call that takes a `seed` leaves the caller's random streams as
    they were.

    Example:

    >>> import random
    >>> random.seed(1); expected = random.random()
    >>> random.seed(1)
    >>> with seed_scope(7):
    ...     _ = random.random()
    >>> random.random() == expected
    True
    """
    import keras
    import tensorflow as tf
    from keras.src.backend.common import global_state
    from keras.src.random.seed_generator import GLOBAL_SEED_GENERATOR
    from keras.src.utils.rng_utils import GLOBAL_RANDOM_SEED

    python_state = random.getstate()
    numpy_state = np.random.get_state()
    keras_seed = global_state.get_global_attribute(GLOBAL_RANDOM_SEED)
    keras_generator = global_state.get_global_attribute(GLOBAL_SEED_GENERATOR)
    tf_seed = _tf_global_seed()
    keras.utils.set_random_seed(int(seed))
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        global_state.set_global_attribute(GLOBAL_RANDOM_SEED, keras_seed)
        global_state.set_global_attribute(GLOBAL_SEED_GENERATOR, keras_generator)
        tf.random.set_seed(tf_seed)
