"""`TestCase`: round-trip and data helpers shared by the keras_ssl tests."""

import json
import os

import keras
import numpy as np


def _to_numpy_tree(outputs):
    return keras.tree.map_structure(
        lambda t: np.asarray(keras.ops.convert_to_numpy(t)), outputs
    )


def _normalize_config(config):
    """JSON round trip: tuples become lists, and non-JSON values fail loudly."""
    return json.loads(json.dumps(config, sort_keys=True))


class TestCase:
    """Helpers for keras_ssl tests.

    Use it as a mixin of a pytest test class (`class FooTest(TestCase):`) or
    call the static methods directly (`TestCase.make_images(4)`). It holds no
    state and defines no tests itself.

    Example:

    >>> from keras_ssl.layers import ProjectionHead
    >>> class ProjectionHeadTest(TestCase):
    ...     def test_config(self):
    ...         self.assert_serialization_round_trip(ProjectionHead(8))
    >>> ProjectionHeadTest().test_config()
    """

    @staticmethod
    def assert_allclose(actual, expected, rtol=1e-5, atol=1e-6):
        """`np.testing.assert_allclose` over (possibly nested) tensors."""
        actual, expected = _to_numpy_tree(actual), _to_numpy_tree(expected)
        flat_actual = keras.tree.flatten(actual)
        flat_expected = keras.tree.flatten(expected)
        assert len(flat_actual) == len(flat_expected), (
            f"Different structures: {len(flat_actual)} vs {len(flat_expected)} tensors"
        )
        for a, e in zip(flat_actual, flat_expected):
            np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)

    @staticmethod
    def assert_serialization_round_trip(obj):
        """Checks `get_config` → JSON → `from_config` gives the same config.

        Goes through `keras.saving.serialize_keras_object` and a JSON dump,
        as a `.keras` file does, so a config value that is not plain JSON
        (a live object, a NumPy scalar) fails here.

        Returns:
            The re-created object.
        """
        config = _normalize_config(obj.get_config())
        serialized = keras.saving.serialize_keras_object(obj)
        restored = keras.saving.deserialize_keras_object(
            json.loads(json.dumps(serialized))
        )
        assert type(restored) is type(obj), (
            f"Round trip changed the type: {type(obj).__name__} -> "
            f"{type(restored).__name__}"
        )
        assert _normalize_config(restored.get_config()) == config
        # The plain from_config path (as `clone_model` uses it) must agree
        # too. A fresh config: Keras' functional deserialization consumes
        # the nested configs it is given.
        direct = type(obj).from_config(obj.get_config())
        assert _normalize_config(direct.get_config()) == config
        return restored

    @staticmethod
    def assert_keras_round_trip(model, inputs, tmp_path, rtol=1e-5, atol=1e-5):
        """Saves `model` as `.keras`, reloads it, compares inference outputs.

        Args:
            model: a built `keras.Model`.
            inputs: what `model(inputs, training=False)` accepts.
            tmp_path: a folder to write into (pytest's `tmp_path`).

        Returns:
            The reloaded model.
        """
        path = os.path.join(os.fspath(tmp_path), "model.keras")
        expected = model(inputs, training=False)
        model.save(path)
        restored = keras.saving.load_model(path, safe_mode=True)
        assert type(restored) is type(model)
        actual = restored(inputs, training=False)
        TestCase.assert_allclose(actual, expected, rtol=rtol, atol=atol)
        return restored

    @staticmethod
    def make_images(n, size=8, channels=1, seed=0):
        """Random `uint8` images of shape `(n, size, size, channels)`."""
        rng = np.random.default_rng(seed)
        return rng.integers(0, 256, size=(n, size, size, channels), dtype=np.uint8)
