import json
import math
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_ssl.encoders import conv_encoder
from keras_ssl.models.swav import SwAV, resolution_free_encoder
from keras_ssl.testing import TestCase

SIZE, LOCAL = 12, 8
NUM_PROTOTYPES = 6


@keras.saving.register_keras_serializable(package="keras_ssl_tests")
class SwAVTestCrops(keras.layers.Layer):
    """Deterministic multi-crop stand-in: two global views at the input
    size, then `num_local` views resized to `(LOCAL, LOCAL)`."""

    def __init__(self, num_local=2, **kwargs):
        super().__init__(**kwargs)
        self.num_local = num_local

    def call(self, images, training=None):
        small = ops.image.resize(images, (LOCAL, LOCAL))
        local = [small, ops.flip(small, axis=1), 0.5 * small][: self.num_local]
        return [images, ops.flip(images, axis=2) * 0.9, *local]

    def get_config(self):
        return {**super().get_config(), "num_local": self.num_local}


def tiny_swav(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    kwargs = {
        "projection_dim": 4,
        "projection_hidden_dims": (8,),
        "num_prototypes": NUM_PROTOTYPES,
        "seed": seed,
        **kwargs,
    }
    return SwAV(conv_encoder((SIZE, SIZE, 1), widths=(4, 8)), **kwargs)


def compiled(model, learning_rate=0.05):
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), jit_compile=False)
    return model


@pytest.fixture(scope="module")
def images():
    return TestCase.make_images(16, size=SIZE)


@pytest.fixture(scope="module")
def queued(images):
    """A multi-crop SwAV with a 16-row queue after one 8-example step."""
    model = compiled(tiny_swav(augmenter=SwAVTestCrops(), queue_size=16))
    model.fit(images[:8], batch_size=8, epochs=1, shuffle=False, verbose=0)
    return model


def objective_loss(model, images):
    loss_sum, count, _ = model.compute_objective(images, training=False)
    return float(loss_sum) / float(count)


class TestSwAV(TestCase):
    def test_fit_two_views_prototypes_normalised_frozen_then_moving(self, images):
        model = compiled(tiny_swav(freeze_prototypes_steps=2))
        kernel = model.prototypes.kernel
        start = kernel.numpy().copy()
        np.testing.assert_allclose(np.linalg.norm(start, axis=0), 1.0, rtol=1e-6)
        first = model.fit(images, batch_size=8, epochs=1, verbose=0).history
        frozen = kernel.numpy().copy()
        assert np.abs(frozen - start).max() < 1e-6  # steps 1-2: frozen
        second = model.fit(images, batch_size=8, epochs=1, verbose=0).history
        moved = kernel.numpy()
        assert np.abs(moved - frozen).max() > 1e-3  # steps 3-4: trained
        np.testing.assert_allclose(np.linalg.norm(moved, axis=0), 1.0, rtol=1e-5)
        assert set(first) == {"loss", "prototype_entropy"}
        # A cross-entropy against codes (distributions): finite, positive.
        losses = first["loss"] + second["loss"]
        assert np.isfinite(losses).all() and min(losses) > 0.0
        entropy = first["prototype_entropy"] + second["prototype_entropy"]
        assert all(0.0 < e <= math.log(NUM_PROTOTYPES) + 1e-5 for e in entropy)
        assert tuple(model(images[:3]).shape) == (3, 8)

    def test_queue_fills_then_is_used(self, queued, images):
        queue = queued.queue.numpy()
        assert int(queued.queue_count.numpy()) == 8
        # The 8 newest rows (the last global batch, both global views) are
        # unit projections; the rest is still empty.
        np.testing.assert_allclose(np.linalg.norm(queue[:, :8], axis=-1), 1.0, 1e-5)
        assert not queue[:, 8:].any()
        # Not full yet: the queue does not change the codes.
        loss = objective_loss(queued, images[8:])
        queued.queue_count.assign(0)
        assert objective_loss(queued, images[8:]) == pytest.approx(loss, rel=1e-6)
        queued.queue_count.assign(8)
        queued.fit(images[8:], batch_size=8, epochs=1, shuffle=False, verbose=0)
        assert int(queued.queue_count.numpy()) == 16
        # Full: its 16 rows join Sinkhorn-Knopp and change the loss.
        with_queue = objective_loss(queued, images[:8])
        queued.queue_count.assign(0)
        without = objective_loss(queued, images[:8])
        queued.queue_count.assign(16)
        assert abs(with_queue - without) > 1e-4

    def test_multi_resolution_views(self, queued, images):
        views = queued.make_views(images[:4])
        assert [tuple(v.shape[1:3]) for v in views] == [(SIZE, SIZE)] * 2 + [
            (LOCAL, LOCAL)
        ] * 2
        embeddings = queued.embed_views(views)
        assert [tuple(z.shape) for z in embeddings] == [(4, 4)] * 4
        # A local view goes through the encoder's own weights.
        free = resolution_free_encoder(queued.encoder)
        expected = queued.projection_head(free(views[2]))
        self.assert_allclose(embeddings[2], ops.normalize(expected, axis=-1))
        # The encoder runs once per resolution: two calls for four views.
        calls = []
        original = queued._encode
        object.__setattr__(
            queued, "_encode", lambda x, t: (calls.append(x.shape), original(x, t))[1]
        )
        try:
            queued.embed_views(views)
        finally:
            object.__delattr__(queued, "_encode")
        assert [tuple(s) for s in calls] == [(8, SIZE, SIZE, 1), (8, LOCAL, LOCAL, 1)]

    def test_keras_round_trip(self, queued, images, tmp_path):
        restored = self.assert_keras_round_trip(queued, images[:4], tmp_path)
        assert isinstance(restored.augmenter, SwAVTestCrops)
        assert restored.get_config()["queue_size"] == 16
        for a, b in zip(queued.weights, restored.weights):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
        self.assert_allclose(
            objective_loss(restored, images[:8]), objective_loss(queued, images[:8])
        )
        self.assert_allclose(
            restored.encoder(images[:4] / 255), queued.encoder(images[:4] / 255)
        )
        # Training on continues alike: the queue (full, so used), the
        # optimizer state and the prototypes came back.
        steps = int(queued.optimizer.iterations.numpy())
        assert steps >= 1 and int(restored.optimizer.iterations.numpy()) == steps
        losses = [
            m.fit(images[:8], batch_size=8, epochs=1, shuffle=False, verbose=0)
            for m in (queued, restored)
        ]
        self.assert_allclose(losses[1].history["loss"], losses[0].history["loss"])
        for a, b in zip(queued.weights, restored.weights):
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), 1e-5, 1e-6)

    def test_encoder_without_pooling_cannot_take_local_crops(self, images):
        encoder = keras.Sequential(
            [
                keras.Input((SIZE, SIZE, 1)),
                keras.layers.Flatten(),
                keras.layers.Dense(4),
            ]
        )
        model = SwAV(
            encoder,
            projection_dim=4,
            projection_hidden_dims=(),
            augmenter=SwAVTestCrops(),
        )
        with pytest.raises(ValueError, match="must accept other image sizes"):
            tf.function(model.compute_objective)(images[:4])

    @pytest.mark.parametrize(
        "kwargs,match",
        [
            ({"num_prototypes": 1}, "num_prototypes"),
            ({"temperature": 0.0}, "temperature"),
            ({"epsilon": -0.1}, "epsilon"),
            ({"sinkhorn_iterations": 0}, "sinkhorn_iterations"),
            ({"freeze_prototypes_steps": -1}, "freeze_prototypes_steps"),
            ({"queue_size": 2.5}, "queue_size"),
        ],
    )
    def test_argument_errors(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            tiny_swav(**kwargs)


@pytest.fixture
def swav_recipe():
    """The "swav" recipe, registered for the test only when the package
    does not register it already (other tests list the built-in methods)."""
    from keras_ssl import recipes

    registered = "swav" in recipes.names()
    import keras_ssl.recipes.swav  # noqa: F401  (registers "swav")

    if "swav" not in recipes.names():  # imported before, then unregistered
        recipes.register(keras_ssl.recipes.swav.RECIPE)
    yield recipes.get("swav")
    if not registered:
        recipes.unregister("swav")


def test_recipe(swav_recipe):
    assert swav_recipe.modality == "image" and swav_recipe.two_view
    assert swav_recipe.model_class is SwAV
    assert "temperature" in swav_recipe.search_space
    defaults = swav_recipe.model_defaults(400, (28, 28, 1))
    assert defaults == {
        "num_prototypes": 100,
        "epsilon": 0.05,
        "sinkhorn_iterations": 3,
        "temperature": 0.2,
        "freeze_prototypes_steps": 20,
    }
    assert swav_recipe.model_defaults(10_000)["freeze_prototypes_steps"] == 100
    model = SwAV(conv_encoder((SIZE, SIZE, 1), widths=(4,)), **defaults)
    assert model.get_config()["num_prototypes"] == 100


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
    import keras
    import numpy as np

    sys.path.insert(0, __TESTS_DIR__)
    from swav_test import SwAVTestCrops, tiny_swav

    from keras_ssl.losses.swav import sinkhorn

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    results = {"replicas": strategy.num_replicas_in_sync}

    # Sinkhorn-Knopp: two replicas with half a batch each (and a shared
    # queue) give the plan one device gives for the whole batch.
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(8, 5)).astype("float32")
    queue = rng.normal(size=(6, 5)).astype("float32")
    single = sinkhorn(scores, 0.1, 3, queue_scores=queue).numpy()
    halves = tf.data.Dataset.from_tensor_slices(scores).batch(8)
    batch = next(iter(strategy.experimental_distribute_dataset(halves)))
    per_replica = strategy.run(
        lambda s: sinkhorn(s, 0.1, 3, queue_scores=queue), args=(batch,)
    )
    multi = np.concatenate(
        [t.numpy() for t in strategy.experimental_local_results(per_replica)]
    )
    results["sinkhorn_diff"] = float(np.abs(single - multi).max())
    results["sinkhorn_scale"] = float(np.abs(single).max())
    results["local_rows"] = [
        int(t.shape[0]) for t in strategy.experimental_local_results(per_replica)
    ]

    # SwAV: 3 steps of multi-crop views, a queue that is full at step 3,
    # prototypes frozen at step 1.
    images = rng.integers(0, 256, size=(24, __SIZE__, __SIZE__, 1), dtype=np.uint8)


    def build():
        model = tiny_swav(
            augmenter=SwAVTestCrops(), queue_size=16, freeze_prototypes_steps=1
        )
        model.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=False)
        return model


    def diffs(first, second):
        return [float(np.abs(a - b).max()) for a, b in zip(first, second)]


    def run(model):
        before = [np.asarray(w) for w in model.weights]
        history = model.fit(images, batch_size=8, epochs=1, shuffle=False, verbose=0)
        return before, [np.asarray(w) for w in model.weights], history.history


    one = build()
    o_before, o_after, o_history = run(one)
    with strategy.scope():
        two = build()
    t_before, t_after, t_history = run(two)
    results["names"] = [w.path for w in one.weights]
    results["single_history"] = o_history
    results["multi_history"] = t_history
    results["init_diff"] = diffs(o_before, t_before)
    results["after_diff"] = diffs(o_after, t_after)
    results["after_scale"] = [float(np.abs(a).max()) for a in o_after]
    results["update"] = diffs(o_after, o_before)
    results["queue_count"] = int(np.asarray(two.queue_count))
    print("RESULTS " + json.dumps(results))
    """
)


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    folder = tmp_path_factory.mktemp("swav_mirrored")
    script = folder / "compare.py"
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    script.write_text(
        MIRRORED_SCRIPT.replace("__TESTS_DIR__", repr(tests_dir)).replace(
            "__SIZE__", str(SIZE)
        )
    )
    env = dict(os.environ, KERAS_BACKEND="tensorflow", CUDA_VISIBLE_DEVICES="")
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
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
        f"subprocess failed (rc={run.returncode}):\\n{run.stdout[-3000:]}\\n"
        f"{run.stderr[-6000:]}"
    )
    return json.loads(lines[-1][len("RESULTS ") :])


@pytest.mark.slow
def test_mirrored_sinkhorn_runs_over_the_global_batch(mirrored):
    assert mirrored["replicas"] == 2
    assert mirrored["local_rows"] == [4, 4]
    assert mirrored["sinkhorn_diff"] <= 1e-6 * mirrored["sinkhorn_scale"]


@pytest.mark.slow
def test_mirrored_training_matches_one_device(mirrored):
    r = mirrored
    assert max(r["init_diff"]) == 0.0, "both runs must start from the same weights"
    assert r["queue_count"] == 16
    np.testing.assert_allclose(
        r["multi_history"]["loss"], r["single_history"]["loss"], rtol=1e-4
    )
    np.testing.assert_allclose(
        r["multi_history"]["prototype_entropy"],
        r["single_history"]["prototype_entropy"],
        rtol=1e-4,
    )
    moved = [n for n, u in zip(r["names"], r["update"]) if u > 1e-4]
    assert "prototypes/kernel" in moved and any("queue" in n for n in moved)
    bad = {
        name: diff
        for name, diff, scale in zip(r["names"], r["after_diff"], r["after_scale"])
        if diff > 1e-4 * max(1.0, scale)
    }
    assert not bad, f"weights differ after three steps (max abs diff): {bad}"
