"""Tiny models and subprocess plumbing shared by the distribution tests.

Logical CPU devices and `MultiWorkerMirroredStrategy` must be configured
before TensorFlow initialises, and the test process has long initialised
it, so those runs happen in fresh Python subprocesses (the scripts in this
folder) that import this module and print their results as one JSON line.
"""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
from keras import ops

from keras_ssl.encoders import conv_encoder, transformer_encoder
from keras_ssl.models import MaskedLanguageModel, SimCLR
from keras_ssl.tokenizers import TextPreprocessor
from keras_ssl.tokenizers.special_tokens import SPECIAL_TOKENS

HERE = os.path.dirname(os.path.abspath(__file__))
RESULT_PREFIX = "RESULTS "
SEQUENCE_LENGTH = 8
VOCABULARY = [*SPECIAL_TOKENS, *(f"w{i}" for i in range(27))]  # 32 tokens


def images(n=16, seed=0):
    """`(n, 8, 8, 1)` uint8 images."""
    return np.random.default_rng(seed).integers(0, 256, (n, 8, 8, 1), dtype=np.uint8)


def token_ids(n=16, seed=0):
    """`(n, 8)` ids: `[CLS] words [SEP] [PAD]...` with 3 to 6 words."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((n, SEQUENCE_LENGTH), dtype="int32")  # [PAD] = 0
    for row in ids:
        words = rng.integers(3, SEQUENCE_LENGTH - 1)
        row[0] = VOCABULARY.index("[CLS]")
        row[1 : 1 + words] = rng.integers(len(SPECIAL_TOKENS), len(VOCABULARY), words)
        row[1 + words] = VOCABULARY.index("[SEP]")
    return ids


class AlternatingViews(keras.layers.Layer):
    """Deterministic, different views: odd calls flip, even calls darken.

    Two-view models call their augmenter twice per step (view 1, then view
    2) and each replica traces its own pair of calls, so the parity of the
    call count is the view index on one device and on every replica alike
    (random views would differ once a batch is split over replicas).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0

    def call(self, images, training=None):
        view = self.calls % 2
        self.calls += 1
        return ops.flip(images, axis=2) if view == 0 else 0.8 * images


def tiny_simclr(seed=0, augmenter=None):
    keras.utils.set_random_seed(seed)
    encoder = conv_encoder((8, 8, 1), widths=(4, 8))
    return SimCLR(
        encoder,
        projection_dim=4,
        projection_hidden_dims=(8,),
        temperature=0.5,
        augmenter=augmenter,
        seed=seed,
    )


def tiny_mlm(seed=0):
    keras.utils.set_random_seed(seed)
    preprocessor = TextPreprocessor(VOCABULARY, sequence_length=SEQUENCE_LENGTH)
    encoder = transformer_encoder(
        len(VOCABULARY),
        SEQUENCE_LENGTH,
        hidden_dim=8,
        num_layers=1,
        num_heads=2,
        intermediate_dim=16,
        dropout=0.0,
    )
    return MaskedLanguageModel(encoder, preprocessor, seed=seed)


@keras.saving.register_keras_serializable(package="keras_ssl_tests")
class ContentMasker(keras.layers.Layer):
    """A `TokenMasker` stand-in whose choices depend only on each sequence.

    `TokenMasker` draws from one seeded generator, so a batch split over
    replicas gets different masks than the same batch on one device. This
    layer picks the `max_predictions` non-special positions with the highest
    `(7 * id + 13 * position) % 17` (ties: lowest position) and replaces
    them with `[MASK]`: the same masks on any number of replicas.
    """

    def __init__(self, mask_token_id, special_token_ids, max_predictions, **kw):
        super().__init__(**kw)
        self.mask_token_id = mask_token_id
        self.special_token_ids = list(special_token_ids)
        self.max_predictions = max_predictions

    def call(self, token_ids):
        ids = ops.cast(token_ids, "int32")
        length = ids.shape[1]
        special = ops.convert_to_tensor(self.special_token_ids, "int32")
        is_special = ops.any(ops.expand_dims(ids, -1) == special, axis=-1)
        positions = ops.arange(length, dtype="int32")[None, :]
        scores = ops.cast((7 * ids + 13 * positions) % 17, "float32") + 1.0
        scores = ops.where(is_special, -1.0, scores)
        top, chosen = ops.top_k(scores, self.max_predictions)
        chosen = ops.cast(chosen, "int32")
        weights = ops.cast(top > 0, "float32")
        hits = (
            ops.one_hot(chosen, length, dtype="int32")
            * ops.cast(weights, "int32")[..., None]
        )
        is_masked = ops.sum(hits, axis=1) > 0
        return {
            "token_ids": ops.where(is_masked, self.mask_token_id, ids),
            "mask_positions": chosen,
            "mask_ids": ops.take_along_axis(ids, chosen, axis=1),
            "mask_weights": weights,
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            mask_token_id=self.mask_token_id,
            special_token_ids=self.special_token_ids,
            max_predictions=self.max_predictions,
        )
        return config


def with_content_masker(model):
    """Makes the MLM model mask with a `ContentMasker`.

    `MaskedLanguageModel` takes no masker argument and Keras locks a built
    model's attributes, so the attribute is replaced without tracking: the
    `ContentMasker` holds no state, and the original `TokenMasker` (and its
    seed variable) stays tracked, so the model's variables are unchanged.
    """
    masker = model.masker
    content = ContentMasker(
        masker.mask_token_id, masker.special_token_ids, masker.max_predictions
    )
    object.__setattr__(model, "masker", content)
    return model


def weight_values(model):
    """The model's weights as NumPy arrays, in `model.weights` order."""
    return [keras.ops.convert_to_numpy(w) for w in model.weights]


def fit_in_order(model, x, batch_size):
    """One unshuffled epoch of `fit`: `(weights before, after, history)`."""
    before = weight_values(model)
    history = model.fit(x, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return before, weight_values(model), history.history


def save_values(path, model):
    """Saves the model's weights and optimizer variables to an `.npz` file."""
    values = {f"w{i}": v for i, v in enumerate(weight_values(model))}
    for i, v in enumerate(model.optimizer.variables):
        values[f"o{i}"] = keras.ops.convert_to_numpy(v)
    np.savez(path, **values)


def load_values(path):
    """`(weights, optimizer_variables)` saved by `save_values`."""
    with np.load(path) as data:
        weights = [data[f"w{i}"] for i in range(len(data.files)) if f"w{i}" in data]
        optimizer = [data[f"o{i}"] for i in range(len(data.files)) if f"o{i}" in data]
    return weights, optimizer


def max_diff(values, expected):
    """Largest absolute difference between two equally long lists of arrays."""
    assert len(values) == len(expected), (len(values), len(expected))
    return max(
        float(np.abs(np.asarray(a) - np.asarray(b)).max())
        for a, b in zip(values, expected)
    )


def compare_runs(single, multi, s_before, s_after, m_before, m_after):
    """Per-weight differences of two runs of the same model, keyed by path.

    Two models built in one process get different layer names (`dense`,
    `dense_1`), so weights are matched by position and keyed by the paths
    of `single`.
    """
    names = [w.path for w in single.weights]
    assert len(names) == len(multi.weights)

    def diff(a, b):
        return {n: float(np.abs(x - y).max()) for n, x, y in zip(names, a, b)}

    return {
        "trainable": [w.path for w in single.trainable_weights],
        "init_diff": diff(s_before, m_before),
        "after_diff": diff(s_after, m_after),
        "after_scale": {n: float(np.abs(x).max()) for n, x in zip(names, s_after)},
        "update": diff(s_after, s_before),
    }


def free_ports(count):
    """`count` distinct TCP ports free on 127.0.0.1 right now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def subprocess_env(**extra):
    env = dict(os.environ, KERAS_BACKEND="tensorflow", CUDA_VISIBLE_DEVICES="")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def parse_results(stdout):
    lines = [line for line in stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    return json.loads(lines[-1][len(RESULT_PREFIX) :]) if lines else None


def run_script(name, *args, cwd, timeout=300):
    """Runs `tests/distribute/<name>` in a fresh Python; returns its results."""
    run = subprocess.run(
        [sys.executable, os.path.join(HERE, name), *map(str, args)],
        cwd=cwd,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    results = parse_results(run.stdout)
    assert run.returncode == 0 and results is not None, (
        f"{name} failed (rc={run.returncode}):\n{run.stdout[-3000:]}\n"
        f"{run.stderr[-6000:]}"
    )
    return results


def print_results(results):
    print(RESULT_PREFIX + json.dumps(results), flush=True)


def use_two_logical_cpus():
    """Splits the CPU into two logical devices; call before any TF op."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
