"""The metrics inside a `train_step`: single device (XLA) and mirrored."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_ssl.metrics import (
    Alignment,
    EffectiveRank,
    EmbeddingStd,
    Uniformity,
    alignment,
    effective_rank,
    embedding_std,
    uniformity,
)


class Probe(keras.Model):
    """A model whose train_step only updates the four metrics on its inputs.

    The two views are `x` and `x + 0.5`, so the expected values are known.
    """

    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2)
        self.dense.build((None, dim))
        self.diagnostics = [
            EmbeddingStd(dim=dim),
            EffectiveRank(dim=dim),
            Alignment(),
            Uniformity(),
        ]

    def call(self, x):
        return self.dense(x)

    @property
    def metrics(self):
        return list(self.diagnostics)

    def train_step(self, x):
        std, rank, align, unif = self.diagnostics
        std.update_state(x)
        rank.update_state(x)
        align.update_state(x, x + 0.5)
        unif.update_state(x)
        return {m.name: m.result() for m in self.metrics}


def probe_data():
    return np.random.default_rng(0).normal(size=(32, 6)).astype("float32") + 1.0


def expected_values(x, batch_size):
    batches = [x[i : i + batch_size] for i in range(0, len(x), batch_size)]
    return {
        "embedding_std": float(embedding_std(x)),
        "effective_rank": float(effective_rank(x)),
        "alignment": float(alignment(x, x + 0.5)),
        "uniformity": float(np.mean([float(uniformity(b)) for b in batches])),
    }


def test_fit_logs_values_over_the_epoch():
    x = probe_data()
    model = Probe(dim=6)
    model.compile(optimizer="sgd", jit_compile=True)
    history = model.fit(x, batch_size=8, epochs=2, verbose=0, shuffle=False)
    logged = {name: values[-1] for name, values in history.history.items()}
    expected = expected_values(x, batch_size=8)
    assert sorted(logged) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(logged[name], value, rtol=1e-5, err_msg=name)


# Logical devices must be configured before TensorFlow initialises, so the
# mirrored run is a fresh process; it imports `Probe` from this file.
MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json
    import os
    import sys

    os.environ["KERAS_BACKEND"] = "tensorflow"
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    sys.path.insert(0, {here!r})
    from train_step_test import Probe, probe_data

    x = probe_data()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = Probe(dim=6)
        model.compile(optimizer="sgd", jit_compile=False)
    history = model.fit(x, batch_size=8, epochs=1, verbose=0, shuffle=False)
    print(json.dumps({{
        "logged": {{k: float(v[-1]) for k, v in history.history.items()}},
        "after": {{m.name: float(m.result()) for m in model.metrics}},
    }}))
    """
)


@pytest.mark.slow
def test_mirrored_strategy_sums_state_across_replicas():
    script = MIRRORED_SCRIPT.format(here=os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    # Each global batch of 8 is split into two replica batches of 4: the
    # streaming metrics see every embedding, Uniformity averages the replica
    # batches' values.
    expected = expected_values(probe_data(), batch_size=4)
    for source in ("logged", "after"):
        for name, value in expected.items():
            np.testing.assert_allclose(
                result[source][name], value, rtol=1e-5, err_msg=f"{source} {name}"
            )
