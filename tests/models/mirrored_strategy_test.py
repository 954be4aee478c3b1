"""SimCLR under MirroredStrategy on two logical CPUs matches one device.

Logical devices must be configured before TensorFlow initialises, and the
test process has long initialised it, so the comparison runs in a fresh
Python subprocess that prints its measurements as JSON.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

HELPERS_DIR = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "distribute"
)

SCRIPT = textwrap.dedent(
    """
    import json
    import os

    os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )

    import keras
    import numpy as np

    import sys

    sys.path.insert(0, __HELPERS_DIR__)
    from distribute_helpers import AlternatingViews

    from keras_ssl.encoders import conv_encoder
    from keras_ssl.models import SimCLR

    IMAGES = np.random.default_rng(0).integers(
        0, 256, size=(16, 8, 8, 1), dtype=np.uint8
    )


    def build(augmenter):
        keras.utils.set_random_seed(0)
        encoder = conv_encoder((8, 8, 1), widths=(4, 8))
        model = SimCLR(
            encoder,
            projection_dim=4,
            projection_hidden_dims=(8,),
            temperature=0.5,
            augmenter=augmenter,
        )
        model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
        return model


    def one_step(model):
        before = [keras.ops.convert_to_numpy(w) for w in model.weights]
        history = model.fit(
            IMAGES, batch_size=16, epochs=1, steps_per_epoch=1, shuffle=False,
            verbose=0,
        )
        after = [keras.ops.convert_to_numpy(w) for w in model.weights]
        return before, after, history.history


    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    results = {"replicas": strategy.num_replicas_in_sync}
    for kind, make in [("identity", keras.layers.Identity),
                       ("alternating", AlternatingViews)]:
        single = build(make())
        s_before, s_after, s_history = one_step(single)
        with strategy.scope():
            multi = build(make())
        m_before, m_after, m_history = one_step(multi)
        results[kind] = {
            "names": [w.path for w in single.weights],
            "single_history": s_history,
            "multi_history": m_history,
            "init_diff": [float(np.abs(a - b).max())
                          for a, b in zip(s_before, m_before)],
            "after_diff": [float(np.abs(a - b).max())
                           for a, b in zip(s_after, m_after)],
            "after_scale": [float(np.abs(a).max()) for a in s_after],
            "update": [float(np.abs(a - b).max())
                       for a, b in zip(s_after, s_before)],
        }
    print("RESULTS " + json.dumps(results))
    """
)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mirrored")
    script = folder / "compare.py"
    script.write_text(SCRIPT.replace("__HELPERS_DIR__", repr(HELPERS_DIR)))
    env = dict(os.environ, KERAS_BACKEND="tensorflow", CUDA_VISIBLE_DEVICES="")
    run = subprocess.run(
        [sys.executable, str(script)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULTS ")]
    assert run.returncode == 0 and lines, (
        f"subprocess failed (rc={run.returncode}):\n{run.stdout[-3000:]}\n"
        f"{run.stderr[-6000:]}"
    )
    return json.loads(lines[-1][len("RESULTS ") :])


pytestmark = pytest.mark.slow


def test_two_replicas(results):
    assert results["replicas"] == 2


@pytest.mark.parametrize("views", ["identity", "alternating"])
def test_same_loss_and_metrics(results, views):
    r = results[views]
    np.testing.assert_allclose(
        r["multi_history"]["loss"], r["single_history"]["loss"], rtol=1e-4
    )
    np.testing.assert_allclose(
        r["multi_history"]["contrastive_accuracy"],
        r["single_history"]["contrastive_accuracy"],
        atol=1e-6,
    )


@pytest.mark.parametrize("views", ["identity", "alternating"])
def test_same_weights_after_one_step(results, views):
    r = results[views]
    assert max(r["init_diff"]) == 0.0, "both runs must start from the same weights"
    # The step moved every weight, so equality below is not trivial.
    moved = [n for n, u in zip(r["names"], r["update"]) if u > 1e-4]
    assert len(moved) == len(r["names"]), set(r["names"]) - set(moved)
    bad = {
        name: diff
        for name, diff, scale in zip(r["names"], r["after_diff"], r["after_scale"])
        if diff > 1e-5 * max(1.0, scale)
    }
    assert not bad, f"weights differ after one step (max abs diff): {bad}"
