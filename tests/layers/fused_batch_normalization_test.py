import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.layers import FusedBatchNormalization
from keras_ssl.testing import TestCase

SHAPES = [(16, 5, 6, 8), (32, 8), (6, 7, 8)]


def _pair(shape, **kwargs):
    """A Keras layer and a fused one with the same (non-trivial) weights."""
    keras_layer = keras.layers.BatchNormalization(**kwargs)
    fused = FusedBatchNormalization(**kwargs)
    keras_layer.build(shape)
    fused.build(shape)
    rng = np.random.default_rng(0)
    weights = [
        rng.uniform(0.5, 1.5, size=w.shape).astype("float32")
        for w in keras_layer.get_weights()
    ]
    keras_layer.set_weights(weights)
    fused.set_weights(weights)
    return keras_layer, fused


def _inputs(shape, seed=1):
    rng = np.random.default_rng(seed)
    return tf.constant(rng.normal(1.0, 3.0, size=shape).astype("float32"))


class TestFusedBatchNormalization(TestCase):
    @pytest.mark.parametrize("shape", SHAPES)
    @pytest.mark.parametrize("synchronized", [False, True])
    def test_training_matches_keras(self, shape, synchronized):
        keras_layer, fused = _pair(shape, momentum=0.9, synchronized=synchronized)
        x = _inputs(shape)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            expected = keras_layer(x, training=True)
            actual = fused(x, training=True)
            # A non-linear loss, so that the gradient is not trivial.
            loss_expected = tf.reduce_sum(expected * tf.sin(expected))
            loss_actual = tf.reduce_sum(actual * tf.sin(actual))
        self.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)
        # Moving statistics: same update (biased batch variance).
        for a, b in zip(fused.weights, keras_layer.weights):
            self.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        grads_expected = tape.gradient(
            loss_expected, [x, keras_layer.gamma, keras_layer.beta]
        )
        grads_actual = tape.gradient(loss_actual, [x, fused.gamma, fused.beta])
        for a, b in zip(grads_actual, grads_expected):
            self.assert_allclose(a, b, rtol=1e-4, atol=1e-4)

    def test_moving_statistics_converge_to_the_batch_statistics(self):
        _, fused = _pair(SHAPES[0], momentum=0.0)
        x = _inputs(SHAPES[0])
        fused(x, training=True)
        values = np.asarray(x).reshape(-1, SHAPES[0][-1])
        self.assert_allclose(fused.moving_mean, values.mean(0), rtol=1e-5, atol=1e-5)
        self.assert_allclose(fused.moving_variance, values.var(0), rtol=1e-4, atol=1e-5)

    @pytest.mark.parametrize("shape", SHAPES)
    def test_inference_and_frozen_use_the_moving_statistics(self, shape):
        keras_layer, fused = _pair(shape)
        x = _inputs(shape)
        self.assert_allclose(fused(x), keras_layer(x), rtol=1e-5, atol=1e-5)
        fused.trainable = False
        keras_layer.trainable = False
        before = [np.asarray(w) for w in fused.weights]
        self.assert_allclose(
            fused(x, training=True), keras_layer(x, training=True), 1e-5, 1e-5
        )
        for a, b in zip(fused.weights, before):
            np.testing.assert_array_equal(np.asarray(a), b)

    def test_without_scale_and_center(self):
        keras_layer, fused = _pair(SHAPES[0], scale=False, center=False)
        x = _inputs(SHAPES[0])
        self.assert_allclose(
            fused(x, training=True), keras_layer(x, training=True), 1e-5, 1e-5
        )

    def test_mixed_precision_keeps_float32_statistics(self):
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy("mixed_bfloat16")
        try:
            fused = FusedBatchNormalization()
            x = _inputs(SHAPES[0])
            y = fused(x, training=True)
        finally:
            keras.config.set_dtype_policy(previous)
        assert y.dtype == "bfloat16"
        assert fused.moving_mean.dtype == "float32"
        values = np.asarray(x).reshape(-1, SHAPES[0][-1])
        self.assert_allclose(
            fused.moving_mean, 0.01 * values.mean(0), rtol=1e-4, atol=1e-5
        )

    def test_under_xla(self):
        keras_layer, fused = _pair(SHAPES[0])
        x = _inputs(SHAPES[0])
        step = tf.function(lambda x: fused(x, training=True), jit_compile=True)
        self.assert_allclose(step(x), keras_layer(x, training=True), 1e-5, 1e-5)

    def test_serialization_and_keras_file(self, tmp_path):
        layer = FusedBatchNormalization(momentum=0.95, epsilon=1e-3)
        self.assert_serialization_round_trip(layer)
        inputs = keras.Input((4, 4, 3))
        model = keras.Model(inputs, layer(inputs))
        model(_inputs((8, 4, 4, 3)), training=True)  # moving stats move
        self.assert_keras_round_trip(model, _inputs((2, 4, 4, 3)), tmp_path)
