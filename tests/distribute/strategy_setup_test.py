"""Strategy names, TF_CONFIG, batch checks, the XLA policy and `setup`.

Every bad input must raise a clear ValueError before anything is built: the
constructors that would start a cluster are replaced by ones that fail the
test if reached.
"""

import json
import logging

import keras
import pytest
import tensorflow as tf

from keras_ssl import distribute
from keras_ssl.distribute import (
    check_global_batch_size,
    check_tf_config,
    get_strategy,
    resolve_jit_compile,
    setup,
)

CPU_ONLY = not tf.config.list_logical_devices("GPU")
TWO_WORKERS = {
    "cluster": {"worker": ["127.0.0.1:20001", "127.0.0.1:20002"]},
    "task": {"type": "worker", "index": 0},
}


class FakeStrategy:
    def __init__(self, replicas):
        self.num_replicas_in_sync = replicas


@pytest.fixture(autouse=True)
def restore_dtype_policy():
    previous = keras.config.dtype_policy()
    yield
    keras.config.set_dtype_policy(previous)


@pytest.fixture
def no_cluster(monkeypatch):
    """Fails the test if a MultiWorkerMirroredStrategy would be built."""

    def refuse(*args, **kwargs):
        raise AssertionError("MultiWorkerMirroredStrategy must not be built")

    monkeypatch.setattr(tf.distribute, "MultiWorkerMirroredStrategy", refuse)


@pytest.fixture
def no_strategy(monkeypatch, no_cluster):
    """Fails the test if `setup` builds any strategy."""

    def refuse(name):
        raise AssertionError(f"no strategy may be built; asked for {name!r}")

    monkeypatch.setattr(distribute, "get_strategy", refuse)


# Strategy names ----------------------------------------------------------


@pytest.mark.parametrize(
    "name, suggestion",
    [
        ("mirorred", "mirrored"),
        ("Mirrored", "mirrored"),
        ("multiworker", "multi_worker"),
        ("one-device", "one_device"),
        ("autp", "auto"),
    ],
)
def test_unknown_strategy_suggests_the_closest_name(name, suggestion):
    with pytest.raises(ValueError) as info:
        get_strategy(name)
    message = str(info.value)
    assert "Argument `strategy` must be one of" in message
    assert f"Received: strategy={name!r}" in message
    assert "'one_device', 'mirrored', 'multi_worker'" in message
    assert f"Did you mean {suggestion!r}?" in message


@pytest.mark.parametrize("name", ["tpu_pod", 3, None, ["mirrored"]])
def test_unknown_strategy_without_a_close_name(name):
    with pytest.raises(ValueError, match="Argument `strategy` must be one of") as e:
        get_strategy(name)
    assert f"Received: strategy={name!r}" in str(e.value)
    if not isinstance(name, list):
        assert "Did you mean" not in str(e.value)


def test_one_device_strategies_on_cpu():
    if not CPU_ONLY:
        pytest.skip("CPU-only machines")
    assert get_strategy("auto").num_replicas_in_sync == 1
    assert get_strategy("one_device").num_replicas_in_sync == 1
    mirrored = get_strategy("mirrored")
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    assert get_strategy(mirrored) is mirrored  # a strategy passes through


def test_auto_warns_when_tf_config_is_set(monkeypatch, caplog):
    monkeypatch.setenv("TF_CONFIG", json.dumps(TWO_WORKERS))
    with caplog.at_level(logging.WARNING, logger="keras_ssl"):
        get_strategy("auto")
    assert "strategy='multi_worker'" in caplog.text


# TF_CONFIG ---------------------------------------------------------------


def _config(**changes):
    config = json.loads(json.dumps(TWO_WORKERS))
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if value is None:
            config[section].pop(field) if field else config.pop(section)
        elif field:
            config[section][field] = value
        else:
            config[section] = value
    return json.dumps(config)


BAD_TF_CONFIGS = {
    "unset": (None, "TF_CONFIG=<not set>"),
    "empty": ("  ", "Set it on every worker"),
    "not json": ("worker=1", "not valid JSON"),
    "json list": ("[1, 2]", "must be a JSON object, got list"),
    "no cluster": (_config(cluster=None), "must have a `cluster` object"),
    "no workers": (_config(cluster={"chief": ["a:1"]}), "`cluster.worker` must"),
    "empty workers": (_config(cluster={"worker": []}), "non-empty list"),
    "worker string": (_config(cluster={"worker": "a:1"}), "non-empty list"),
    "no port": (_config(cluster={"worker": ["localhost"]}), "'host:port'"),
    "no host": (_config(cluster={"worker": [":2222"]}), "'host:port'"),
    "port 0": (_config(cluster={"worker": ["a:0"]}), "port in [1, 65535]"),
    "port too big": (_config(cluster={"worker": ["a:70000"]}), "port in"),
    "port text": (_config(cluster={"worker": ["a:http"]}), "'host:port'"),
    "address int": (_config(cluster={"worker": [2222]}), "got 2222"),
    "duplicate": (_config(cluster={"worker": ["a:1", "a:1"]}), "duplicates"),
    "ps job": (
        _config(cluster={"worker": ["a:1"], "ps": ["b:1"]}),
        "parameter servers are not supported",
    ),
    "two chiefs": (
        _config(cluster={"worker": ["a:1"], "chief": ["b:1", "c:1"]}),
        "`cluster.chief` must hold exactly one address",
    ),
    "no task": (_config(task=None), "must have a `task` object"),
    "task type ps": (_config(task={"type": "ps", "index": 0}), "`task.type`"),
    "task type evaluator": (
        _config(task={"type": "evaluator", "index": 0}),
        "must be one of ['worker', 'chief'] for training",
    ),
    "chief not in cluster": (
        _config(task={"type": "chief", "index": 0}),
        "`cluster` has no 'chief' job",
    ),
    "index out of range": (_config(task__index=2), "int in [0, 2)"),
    "negative index": (_config(task__index=-1), "got -1"),
    "index string": (_config(task__index="0"), "got '0'"),
    "index bool": (_config(task__index=True), "got True"),
    "index missing": (_config(task__index=None), "got None"),
}


@pytest.mark.parametrize("case", sorted(BAD_TF_CONFIGS))
def test_bad_tf_config_raises_before_training(case, monkeypatch, no_cluster):
    value, expected = BAD_TF_CONFIGS[case]
    if value is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", value)
    for call in (
        lambda: get_strategy("multi_worker"),
        lambda: setup("multi_worker", batch_size=16),
    ):
        with pytest.raises(ValueError) as info:
            call()
        message = str(info.value)
        assert "Invalid TF_CONFIG for strategy='multi_worker'" in message
        assert "Received: TF_CONFIG=" in message
        assert expected in message


def test_valid_tf_config_builds_the_multi_worker_strategy(monkeypatch):
    built = []
    monkeypatch.setattr(
        tf.distribute,
        "MultiWorkerMirroredStrategy",
        lambda *a, **k: built.append("mwms") or "strategy",
    )
    config = {
        "cluster": {"chief": ["10.0.0.1:2222"], "worker": ["10.0.0.2:2222"]},
        "task": {"type": "chief", "index": 0},
        "rpc_layer": "grpc",
    }
    assert check_tf_config(config) == config
    assert check_tf_config(json.dumps(config)) == config
    monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    assert get_strategy("multi_worker") == "strategy"
    assert built == ["mwms"]


def test_multi_worker_after_tensorflow_started_is_a_clear_error(monkeypatch):
    tf.constant(1.0)  # this process has initialised TensorFlow
    monkeypatch.setenv("TF_CONFIG", json.dumps(TWO_WORKERS))
    with pytest.raises(RuntimeError, match="before TensorFlow runs any op"):
        get_strategy("multi_worker")


# Global batch ------------------------------------------------------------


def test_divisible_batch_returns_the_per_replica_batch():
    assert check_global_batch_size(FakeStrategy(4), 32) == 8
    assert check_global_batch_size(3, 9) == 3
    assert check_global_batch_size(tf.distribute.get_strategy(), 7) == 7


@pytest.mark.parametrize(
    "replicas, batch, nearest",
    [(4, 30, "28 or 32"), (4, 2, "4."), (3, 100, "99 or 102")],
)
def test_batch_not_divisible_by_replicas(replicas, batch, nearest):
    with pytest.raises(ValueError) as info:
        check_global_batch_size(FakeStrategy(replicas), batch)
    message = str(info.value)
    assert f"batch_size={batch} with num_replicas_in_sync={replicas}" in message
    assert f"Use batch_size={nearest}" in message


@pytest.mark.parametrize("batch", [0, -8, 2.5, "16", True, None])
def test_batch_must_be_a_positive_int(batch):
    with pytest.raises(ValueError, match="Argument `batch_size` must be a positive"):
        check_global_batch_size(FakeStrategy(1), batch)


def test_multi_worker_batch_checked_before_the_cluster_starts(monkeypatch, no_cluster):
    monkeypatch.setenv("TF_CONFIG", json.dumps(TWO_WORKERS))
    with pytest.raises(ValueError, match="Use batch_size=14 or 16"):
        setup("multi_worker", batch_size=15)


# XLA ---------------------------------------------------------------------


@pytest.mark.skipif(not CPU_ONLY, reason="CPU-only policy")
def test_xla_policy_on_cpu(caplog):
    with caplog.at_level(logging.INFO, logger="keras_ssl"):
        assert resolve_jit_compile(requested="auto") is False
    assert "XLA off: no GPU" in caplog.text
    assert resolve_jit_compile(requested=False) is False
    assert resolve_jit_compile(requested=True) is True


@pytest.mark.parametrize("bad", ["yes", "true", 1, 0, None])
def test_jit_compile_must_be_auto_or_a_bool(bad):
    with pytest.raises(ValueError, match="Argument `jit_compile` must be"):
        resolve_jit_compile(requested=bad)


@pytest.mark.skipif(not CPU_ONLY, reason="CPU-only policy")
def test_xla_off_with_several_cpu_replicas(caplog):
    with caplog.at_level(logging.WARNING, logger="keras_ssl"):
        assert resolve_jit_compile(FakeStrategy(2), requested=True) is False
    assert "XLA disabled: 2 replicas on CPU devices" in caplog.text


# setup -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"strategy": "mirorred"}, "Did you mean 'mirrored'"),
        ({"mixed_precision": "fp16"}, "Argument `mixed_precision`"),
        ({"mixed_precision": "mixed_bf16"}, "Did you mean 'mixed_bfloat16'"),
        ({"jit_compile": "yes"}, "Argument `jit_compile`"),
        ({"batch_size": 0}, "Argument `batch_size`"),
    ],
)
def test_setup_validates_everything_before_building(kwargs, match, no_strategy):
    policy = keras.config.dtype_policy().name
    with pytest.raises(ValueError, match=match):
        setup(**{"mixed_precision": "mixed_bfloat16", **kwargs})
    assert keras.config.dtype_policy().name == policy  # nothing was set


def test_setup_on_one_device():
    strategy, jit = setup("one_device", batch_size=8, jit_compile=False)
    assert strategy.num_replicas_in_sync == 1
    assert jit is False
    assert keras.config.dtype_policy().name == "float32"


def test_setup_mirrored_with_mixed_precision():
    strategy, jit = setup("mirrored", batch_size=6, mixed_precision="mixed_bfloat16")
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert keras.config.dtype_policy().name == "mixed_bfloat16"
    if CPU_ONLY:
        assert jit is False
