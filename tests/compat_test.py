"""`keras_ssl.compat`: each wrapper of private Keras / TensorFlow API still
behaves as the library expects (a Keras upgrade that breaks one fails here)."""

import inspect
import os
import random
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl import compat
from keras_ssl.models import SSLModel


def test_scale_loss_for_distribution_is_identity_with_one_replica():
    loss = tf.constant(6.0)
    assert float(compat.scale_loss_for_distribution(loss)) == 6.0
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        scaled = strategy.run(compat.scale_loss_for_distribution, args=(loss,))
    assert float(scaled) == 6.0


# Logical CPU devices must be configured before TensorFlow initialises.
MIRRORED = textwrap.dedent(
    """
    import keras_ssl  # noqa: F401  (TensorFlow backend)
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    from keras_ssl.compat import scale_loss_for_distribution

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

    @tf.function
    def step():
        return strategy.run(lambda: scale_loss_for_distribution(tf.constant(6.0)))

    values = strategy.experimental_local_results(step())
    print(strategy.num_replicas_in_sync, [float(v) for v in values])
    """
)


@pytest.mark.slow
def test_scale_loss_for_distribution_divides_by_the_replicas():
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run(
        [sys.executable, "-c", MIRRORED],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "2 [3.0, 3.0]"


def test_in_multi_worker_mode():
    assert compat.in_multi_worker_mode(tf.distribute.get_strategy()) is False
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    assert compat.in_multi_worker_mode(strategy) is False


def test_keras_still_has_the_method_ssl_model_overrides():
    # `SSLModel._maybe_symbolic_build` overrides this private method.
    method = getattr(keras.Model, "_maybe_symbolic_build", None)
    assert method is not None
    assert {"iterator", "data_batch"} <= set(inspect.signature(method).parameters)
    assert "_maybe_symbolic_build" in vars(SSLModel)


def _lambda_config():
    layer = keras.layers.Lambda(lambda x: x * 2.0)
    return keras.saving.serialize_keras_object(layer)


def test_safe_mode_scope_refuses_a_lambda_layer():
    config = _lambda_config()
    with compat.safe_mode_scope(True):
        with pytest.raises(ValueError, match="lambda"):
            # The scope wins over the call's own `safe_mode=False`.
            keras.saving.deserialize_keras_object(config, safe_mode=False)
    with compat.safe_mode_scope(False):
        layer = keras.saving.deserialize_keras_object(config)
    np.testing.assert_allclose(np.asarray(layer(np.ones((1, 2)))), [[2.0, 2.0]])


def test_flatten_layers_finds_nested_layers():
    inner_inputs = keras.Input((3,))
    inner = keras.Model(
        inner_inputs, keras.layers.Dense(2, name="inner_dense")(inner_inputs)
    )
    inputs = keras.Input((3,))
    outer = keras.Model(
        inputs, keras.layers.Dense(1, name="outer_dense")(inner(inputs))
    )
    names = [layer.name for layer in compat.flatten_layers(outer)]
    assert "inner_dense" in names and "outer_dense" in names
    assert inner.name in names and outer.name not in names
    assert compat.flatten_layers(outer, include_self=True)[0] is outer


class _StartAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_train_begin(self, logs=None):
        compat.set_initial_epoch(self.model, self.epoch)


def test_set_initial_epoch_makes_fit_start_at_that_epoch():
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    x, y = np.ones((4, 2), "float32"), np.ones((4, 1), "float32")
    history = model.fit(x, y, epochs=4, callbacks=[_StartAt(2)], verbose=0)
    assert history.epoch == [2, 3]
    compat.set_initial_epoch(model, None)
    history = model.fit(x, y, epochs=2, verbose=0)
    assert history.epoch == [0, 1]


def _draws():
    """One draw from each global generator seed_scope must restore."""
    return (
        random.random(),
        float(np.random.random()),
        keras.ops.convert_to_numpy(keras.random.uniform((3,))).tolist(),
        tf.random.uniform((2,)).numpy().tolist(),
    )


def _dense_weights():
    layer = keras.layers.Dense(3)
    layer.build((None, 4))
    return [keras.ops.convert_to_numpy(w) for w in layer.weights]


def test_seed_scope_restores_the_global_generators():
    keras.utils.set_random_seed(1)
    expected = _draws()
    keras.utils.set_random_seed(1)
    with compat.seed_scope(7):
        _draws()
        _dense_weights()
    assert _draws() == expected


def test_seed_scope_gives_the_weights_of_set_random_seed():
    keras.utils.set_random_seed(7)
    expected = _dense_weights(), _draws()
    keras.utils.set_random_seed(3)
    with compat.seed_scope(7):
        weights, draws = _dense_weights(), _draws()
    for a, b in zip(weights, expected[0], strict=True):
        np.testing.assert_array_equal(a, b)
    assert draws == expected[1]
