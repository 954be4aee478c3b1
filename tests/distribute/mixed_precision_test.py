"""Mixed precision: policy handling, and SimCLR / MLM training under it.

The dtype policy is global Keras state: every test here restores it, and
checks that `mixed_precision_scope` does.
"""

import logging

import keras
import numpy as np
import pytest
import tensorflow as tf
from distribute_helpers import images, tiny_mlm, tiny_simclr, token_ids

from keras_ssl import distribute
from keras_ssl.app import pretrain
from keras_ssl.app.pretrain import IMAGE_METHODS
from keras_ssl.datasets.labeled_data import LabeledData
from keras_ssl.distribute import (
    mixed_precision_scope,
    resolve_mixed_precision,
    set_mixed_precision,
)

MIXED = ["mixed_bfloat16", "mixed_float16"]
COMPUTE_DTYPE = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


@pytest.fixture(autouse=True)
def restore_dtype_policy():
    previous = keras.config.dtype_policy()
    yield
    keras.config.set_dtype_policy(previous)


# The policy --------------------------------------------------------------


@pytest.mark.parametrize("policy", [*MIXED, "off"])
def test_set_mixed_precision_returns_the_previous_policy(policy):
    assert keras.config.dtype_policy().name == "float32"
    previous = set_mixed_precision(policy)
    assert previous == "float32"
    expected = "float32" if policy == "off" else policy
    assert keras.config.dtype_policy().name == expected
    assert keras.layers.Dense(2).compute_dtype == COMPUTE_DTYPE.get(policy, "float32")
    assert set_mixed_precision(previous) == expected
    assert keras.config.dtype_policy().name == "float32"


def test_scope_restores_the_policy_even_after_an_error():
    with pytest.raises(RuntimeError, match="boom"):
        with mixed_precision_scope("mixed_bfloat16") as name:
            assert name == "mixed_bfloat16"
            assert keras.config.dtype_policy().name == "mixed_bfloat16"
            raise RuntimeError("boom")
    assert keras.config.dtype_policy().name == "float32"


@pytest.mark.parametrize(
    "policy, suggestion",
    [("mixed_bf16", "mixed_bfloat16"), ("mixed_fp16", "mixed_float16"), ("of", "off")],
)
def test_unknown_policy_suggests_the_closest(policy, suggestion):
    with pytest.raises(ValueError) as info:
        set_mixed_precision(policy)
    message = str(info.value)
    assert "Argument `mixed_precision` must be one of" in message
    assert f"Received: mixed_precision={policy!r}" in message
    assert f"Did you mean {suggestion!r}?" in message
    assert keras.config.dtype_policy().name == "float32"


@pytest.mark.parametrize("policy", [None, True, "float16", "bfloat16"])
def test_policies_other_than_the_four_are_refused(policy):
    with pytest.raises(ValueError, match="Argument `mixed_precision`"):
        set_mixed_precision(policy)


@pytest.mark.parametrize(
    "native, expected", [(True, "mixed_bfloat16"), (False, "float32")]
)
def test_auto_on_cpu_follows_native_bfloat16(monkeypatch, caplog, native, expected):
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    monkeypatch.setattr(distribute, "_cpu_has_native_bfloat16", lambda: native)
    name, reason = resolve_mixed_precision("auto")
    assert name == expected
    assert "no GPU" in reason and "float32 step time" in reason
    with caplog.at_level(logging.INFO, logger="keras_ssl"):
        set_mixed_precision("auto")
    assert keras.config.dtype_policy().name == expected
    assert f"Mixed precision 'auto' -> {expected}" in caplog.text


@pytest.mark.parametrize(
    "capability, expected", [((8, 0), "mixed_float16"), ((6, 1), "float32")]
)
def test_auto_on_gpu_uses_float16_where_it_is_fast(monkeypatch, capability, expected):
    gpu = tf.config.PhysicalDevice("/physical_device:GPU:0", "GPU")
    monkeypatch.setattr(
        tf.config,
        "list_physical_devices",
        lambda kind=None: [gpu] if kind in (None, "GPU") else [],
    )
    monkeypatch.setattr(
        tf.config.experimental,
        "get_device_details",
        lambda device: {"compute_capability": capability},
    )
    assert resolve_mixed_precision("auto")[0] == expected


@pytest.mark.parametrize(
    "env, value",
    [("TF_ENABLE_ONEDNN_OPTS", "0"), ("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")],
)
def test_no_native_bfloat16_when_onednn_cannot_use_it(monkeypatch, env, value):
    monkeypatch.setenv(env, value)
    assert distribute._cpu_has_native_bfloat16() is False


# Training under mixed precision -------------------------------------------


def _check_trained(model, before, history, policy):
    assert np.isfinite(history["loss"]).all(), history
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    moved = [
        float(np.abs(np.asarray(a) - b).max())
        for a, b in zip(model.trainable_variables, before)
    ]
    assert max(moved) > 0, "the optimizer must apply (unscaled) updates"
    is_scaled = isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert is_scaled == (policy == "mixed_float16")
    if is_scaled:
        # Loss scaling went through the optimizer: a finite dynamic scale.
        scale = float(model.optimizer.dynamic_scale.numpy())
        assert 1.0 <= scale <= 2.0**15


def _fit(model, x):
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    before = [np.asarray(v) for v in model.trainable_variables]
    # 8 steps: under mixed_float16 the first steps may overflow at the
    # initial loss scale (2**15) and are skipped while the scale drops.
    history = model.fit(x, batch_size=8, epochs=2, verbose=0).history
    return before, history


@pytest.mark.slow
@pytest.mark.parametrize("policy", MIXED)
def test_simclr_trains_under_mixed_precision(policy):
    with mixed_precision_scope(policy):
        model = tiny_simclr()
        x = images(32)
        embeddings = model(x)
        assert embeddings.dtype == COMPUTE_DTYPE[policy]  # really mixed
        loss_sum, _, _ = model.compute_objective(x, training=True)
        assert loss_sum.dtype == "float32"  # objective in float32
        before, history = _fit(model, x)
    _check_trained(model, before, history, policy)
    assert keras.config.dtype_policy().name == "float32"


@pytest.mark.slow
@pytest.mark.parametrize("policy", MIXED)
def test_mlm_trains_under_mixed_precision(policy):
    with mixed_precision_scope(policy):
        model = tiny_mlm()
        ids = token_ids(32)
        assert model(ids).dtype == COMPUTE_DTYPE[policy]
        loss_sum, _, _ = model.compute_objective(ids, training=True)
        assert loss_sum.dtype == "float32"
        before, history = _fit(model, ids)
    _check_trained(model, before, history, policy)
    assert keras.config.dtype_policy().name == "float32"


def test_image_augmentation_computes_in_float32_under_mixed_precision():
    with mixed_precision_scope("mixed_bfloat16"):
        model = tiny_simclr()
        assert model.encoder.compute_dtype == "bfloat16"
        assert model.augmenter.compute_dtype == "float32"
        for layer in model.augmenter._flatten_layers():
            assert layer.compute_dtype == "float32", layer.name
        view_1, _ = model.make_views(images(4))
        assert view_1.dtype == "float32"
        model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
        history = model.fit(images(16), batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(IMAGE_METHODS))
def test_every_image_method_pretrains_under_mixed_bfloat16(method, tmp_path):
    rng = np.random.default_rng(0)
    data = LabeledData(
        rng.integers(0, 256, (48, 28, 28, 1)).astype("uint8"),
        rng.integers(0, 3, 48),
    )
    kwargs = {} if method == "mae" else {"widths": [4, 8]}
    if method == "deepcluster":
        kwargs["num_clusters"] = 4
    result = pretrain(
        method,
        data,
        output_dir=str(tmp_path),
        epochs=1,
        batch_size=16,
        steps_per_epoch=2,
        mixed_precision="mixed_bfloat16",
        verbose=0,
        model_kwargs=kwargs,
    )
    assert np.isfinite(result["history"]["loss"]).all()
    assert keras.config.dtype_policy().name == "float32"  # restored
