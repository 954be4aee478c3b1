"""Strategy selection and the XLA policy."""

import logging

import pytest
import tensorflow as tf

from keras_ssl.distribute import get_strategy, resolve_jit_compile


def test_unknown_strategy_names_the_argument():
    with pytest.raises(ValueError, match=r"strategy='mirorred'"):
        get_strategy("mirorred")


def test_default_strategy_on_cpu():
    assert get_strategy("auto").num_replicas_in_sync == 1
    assert get_strategy("one_device").num_replicas_in_sync == 1


def test_xla_policy_on_cpu():
    if tf.config.list_logical_devices("GPU"):
        pytest.skip("CPU-only policy")
    assert resolve_jit_compile(requested="auto") is False
    assert resolve_jit_compile(requested=False) is False
    assert resolve_jit_compile(requested=True) is True
    with pytest.raises(ValueError, match="jit_compile"):
        resolve_jit_compile(requested="yes")


def test_xla_off_with_several_cpu_replicas(caplog):
    class FakeStrategy:
        num_replicas_in_sync = 2

    if tf.config.list_logical_devices("GPU"):
        pytest.skip("CPU-only policy")
    with caplog.at_level(logging.WARNING, logger="keras_ssl"):
        assert resolve_jit_compile(FakeStrategy(), requested=True) is False
    assert "XLA disabled: 2 replicas on CPU devices" in caplog.text
