"""BYOL, SimSiam, Barlow Twins and VICReg on the shared two-view contract."""

import keras
import numpy as np
import pytest

from keras_ssl.datasets import load
from keras_ssl.encoders import conv_encoder
from keras_ssl.models import (
    BYOL,
    BarlowTwins,
    MoCo,
    SimSiam,
    TripletModel,
    TwoViewModel,
    VICReg,
)
from keras_ssl.testing import TestCase

METHODS = {
    "byol": (BYOL, {"predictor_hidden_dim": 8}),
    "simsiam": (SimSiam, {"predictor_hidden_dim": 4}),
    "barlow_twins": (BarlowTwins, {}),
    "vicreg": (VICReg, {}),
    "moco": (MoCo, {"queue_size": 40}),
    "triplet": (TripletModel, {"mining": "semi_hard"}),
}
EXTRA_METRICS = {"moco": {"contrastive_accuracy"}}


def tiny(name, seed=0, **kwargs):
    cls, extra = METHODS[name]
    keras.utils.set_random_seed(seed)
    encoder = conv_encoder((28, 28, 1), widths=(4, 8))
    return cls(
        encoder,
        projection_dim=8,
        projection_hidden_dims=(16,),
        seed=seed,
        **{**extra, **kwargs},
    )


@pytest.fixture(scope="module")
def images():
    return load("fashion_mnist", split="test").subset(64, seed=0).x


@pytest.mark.parametrize("name", sorted(METHODS))
class TestJointEmbeddingModels(TestCase):
    def test_fit_on_real_images(self, name, images):
        model = tiny(name)
        assert isinstance(model, TwoViewModel)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
        history = model.fit(images, batch_size=16, epochs=1, verbose=0)
        assert set(history.history) == {"loss"} | EXTRA_METRICS.get(name, set())
        assert np.isfinite(history.history["loss"]).all()
        out = model.predict(images[:5], verbose=0)
        assert out.shape == (5, 8)

    def test_keras_round_trip(self, name, images, tmp_path):
        model = tiny(name)
        model.compile(optimizer="adam", jit_compile=False)
        model.fit(images[:32], batch_size=16, epochs=1, verbose=0)
        restored = self.assert_keras_round_trip(model, images[:4], tmp_path)
        assert type(restored) is type(model)

    def test_config_round_trip(self, name):
        model = tiny(name)
        config = model.get_config()
        restored = type(model).from_config(config)
        assert restored.projection_dim == 8
        assert restored.get_config()["augmenter"] == config["augmenter"]


def test_byol_target_is_an_ema_of_the_online_network(images):
    model = tiny("byol", base_momentum=0.5)
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    target_ids = {id(v) for v in model.target_encoder.weights}
    assert not target_ids & {id(v) for v in model.trainable_variables}
    before = [np.array(t) for t, _ in model._target_pairs()]
    model.fit(images[:16], batch_size=16, epochs=1, verbose=0)
    for (target, online), old in zip(model._target_pairs(), before):
        expected = 0.5 * old + 0.5 * np.array(online)
        np.testing.assert_allclose(np.array(target), expected, rtol=1e-5, atol=1e-6)


def test_byol_momentum_schedule_rises_to_one():
    model = tiny("byol", base_momentum=0.9, total_steps=10)
    model.compile(optimizer="sgd")
    assert float(model.momentum()) == pytest.approx(0.9)
    model.optimizer.iterations.assign(10)
    assert float(model.momentum()) == pytest.approx(1.0)


@pytest.mark.parametrize("momentum", [1.0, -0.1, "0.9"])
def test_byol_bad_momentum(momentum):
    with pytest.raises(ValueError, match="base_momentum"):
        tiny("byol", base_momentum=momentum)


def test_moco_enqueues_keys_and_saves_the_queue(images, tmp_path):
    model = tiny("moco", queue_size=40)
    model.compile(optimizer="adam", jit_compile=False)
    before = np.array(model.memory_bank.queue())
    model.fit(images[:16], batch_size=16, epochs=1, verbose=0)
    after = np.array(model.memory_bank.queue())
    changed = np.any(before != after, axis=1)
    assert changed[:32].all() and not changed[32:].any()  # 2 views x 16 keys
    assert int(model.memory_bank._pointer.numpy()) == 32
    np.testing.assert_allclose(np.linalg.norm(after, axis=1), 1.0, rtol=1e-5)
    path = str(tmp_path / "moco.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(np.array(restored.memory_bank.queue()), after)


def test_bad_triplet_arguments():
    with pytest.raises(ValueError, match="mining"):
        tiny("triplet", mining="hardest")
    with pytest.raises(ValueError, match="margin"):
        tiny("triplet", margin=-1.0)


def test_non_vector_encoder_is_refused():
    inputs = keras.Input((8, 8, 1))
    encoder = keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs))
    for cls in (BYOL, SimSiam, BarlowTwins, VICReg, MoCo, TripletModel):
        with pytest.raises(ValueError, match="one vector per image"):
            cls(encoder)


@pytest.mark.parametrize("n", [1, 3, 16])
def test_two_view_semi_hard_matches_general_loss(n):
    from keras_ssl.losses import batch_semi_hard_triplet
    from keras_ssl.models.triplet_model import two_view_semi_hard_triplet

    rng = np.random.default_rng(n)
    x = rng.normal(size=(2 * n, 5)).astype("float32")
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    labels = np.concatenate([np.arange(n), np.arange(n)])
    fast = np.asarray(two_view_semi_hard_triplet(x, 0.3))
    general = np.asarray(batch_semi_hard_triplet(x, labels, margin=0.3))
    np.testing.assert_allclose(fast, general, atol=1e-6)
    assert fast.shape == (2 * n,)


@pytest.mark.parametrize("name", ["simclr", "byol", "moco", "vicreg"])
def test_collapse_metrics_are_reported_and_detect_collapse(name, images):
    from keras_ssl.models import SimCLR

    if name == "simclr":
        keras.utils.set_random_seed(0)
        model = SimCLR(
            conv_encoder((28, 28, 1), widths=(4, 8)),
            projection_dim=8,
            projection_hidden_dims=(16,),
            seed=0,
            collapse_metrics=True,
        )
    else:
        model = tiny(name, collapse_metrics=True)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    history = model.fit(images, batch_size=16, epochs=1, verbose=0)
    assert {"embedding_std", "effective_rank"} <= set(history.history)
    std = history.history["embedding_std"][-1]
    rank = history.history["effective_rank"][-1]
    assert 0.0 < std <= 1.0 and 1.0 <= rank <= 8.0
    # A projection head with constant output is the collapsed case: std 0
    # and effective rank 1.
    dense = [v for v in model.projection_head.weights if "kernel" in v.path]
    dense[-1].assign(np.zeros(dense[-1].shape, "float32"))
    biases = [v for v in model.projection_head.weights if "bias" in v.path]
    biases[-1].assign(np.linspace(1.0, 2.0, biases[-1].shape[0]).astype("float32"))
    result = model.evaluate(images, batch_size=16, verbose=0, return_dict=True)
    assert result["embedding_std"] == pytest.approx(0.0, abs=1e-4)
    assert result["effective_rank"] == pytest.approx(1.0, abs=1e-2)
    config = model.get_config()
    assert config["collapse_metrics"] is True
    assert type(model).from_config(config).collapse_metrics is True


def test_collapse_metrics_off_by_default_and_validated():
    assert tiny("vicreg").diagnostics == []
    with pytest.raises(ValueError, match="collapse_metrics"):
        tiny("vicreg", collapse_metrics="yes")
