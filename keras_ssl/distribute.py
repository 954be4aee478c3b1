"""Strategy selection, batch checks, mixed precision and the XLA policy.

`setup` is the one entry point the workflows use: it validates every
argument first (so a typo fails before any data is loaded or any model is
built), then builds the `tf.distribute` strategy, checks the global batch
against the number of replicas, sets the Keras dtype policy and decides
whether `fit` should use XLA.

Global state: `set_mixed_precision` (and so `setup`) changes the *global*
Keras dtype policy (`keras.config.set_dtype_policy`, kept per thread by
Keras), which every layer built afterwards uses. Use `mixed_precision_scope`
to restore the previous policy automatically.
"""

import contextlib
import json
import logging
import numbers
import os

import keras
import tensorflow as tf

from keras_ssl.checks import check_choice

logger = logging.getLogger("keras_ssl")

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")
PRECISIONS = ("off", "auto", "mixed_float16", "mixed_bfloat16")
TASK_TYPES = ("worker", "chief")
CLUSTER_JOBS = ("worker", "chief", "evaluator")
_MULTI_WORKER_CLASSES = ("MultiWorkerMirroredStrategy", "CollectiveAllReduceStrategy")

# "auto" on CPU, measured on the 2-core machines this project is built on
# (AMD EPYC with AVX512_BF16, TF 2.21, Keras 3.15): a float32 and a
# mixed_bfloat16 model trained in one process, steps interleaved, median
# step time over 30 steps each (SimCLR conv widths (32, 64, 128) on 28x28
# images, batch 128; MLM hidden 128, 2 layers, length 32, batch 128).
# mixed_bfloat16 / float32 step time, two runs, wall (CPU) time:
# SimCLR 0.75 (0.78) and 0.68 (0.78); MLM 0.81 (0.83) and 0.92 (0.87).
# With oneDNN limited to AVX512_CORE (ONEDNN_MAX_CPU_ISA, i.e. a CPU
# without bf16 instructions): SimCLR 2.40 (2.25), MLM 1.83 (1.78). So
# "auto" picks mixed_bfloat16 only on CPUs with native bf16 (avx512_bf16 /
# amx_bf16) and oneDNN on.
_NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def _cpu_has_native_bfloat16():
    """Whether the CPU (and oneDNN, as configured) computes bf16 natively."""
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") == "0":
        return False
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper()
    if isa != "ALL" and "BF16" not in isa and "AMX" not in isa:
        return False
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(f.read().split())
    except OSError:  # not Linux: unmeasured, stay in float32
        return False
    return any(flag in flags for flag in _NATIVE_BF16_FLAGS)


# TF_CONFIG ---------------------------------------------------------------


def _tf_config_error(problem, received):
    return ValueError(
        f"Invalid TF_CONFIG for strategy='multi_worker': {problem} "
        f"Received: TF_CONFIG={received}. Expected JSON like "
        '{"cluster": {"worker": ["host1:port", "host2:port"]}, '
        '"task": {"type": "worker", "index": 0}} on every worker, '
        "each with its own task index."
    )


def _check_address(job, index, address, raw):
    if not isinstance(address, str):
        raise _tf_config_error(
            f"`cluster.{job}[{index}]` must be a 'host:port' string, got {address!r}.",
            raw,
        )
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _tf_config_error(
            f"`cluster.{job}[{index}]` must be 'host:port' with a port in "
            f"[1, 65535], got {address!r}.",
            raw,
        )


def check_tf_config(tf_config=None):
    """Validates a `TF_CONFIG` for `MultiWorkerMirroredStrategy`.

    Checks what TensorFlow would otherwise report late or cryptically (or
    hang on): the JSON, a `cluster` with a non-empty `worker` list (and at
    most one `chief`) of distinct `"host:port"` strings, and a `task` of type
    `"worker"` or `"chief"` whose `index` is in range.

    Args:
        tf_config: the `TF_CONFIG` JSON string or a parsed dict; defaults to
            the `TF_CONFIG` environment variable.

    Returns:
        The parsed dict.

    Raises:
        ValueError: naming TF_CONFIG, what was received and what is expected.

    Example:

    >>> check_tf_config({"cluster": {"worker": ["127.0.0.1:2222"]},
    ...                  "task": {"type": "worker", "index": 0}})["task"]
    {'type': 'worker', 'index': 0}
    """
    if tf_config is None:
        tf_config = os.environ.get("TF_CONFIG")
        if tf_config is None or not tf_config.strip():
            raise _tf_config_error(
                "Set it on every worker before starting training.",
                "<not set>" if tf_config is None else repr(tf_config),
            )
    raw = tf_config if isinstance(tf_config, str) else json.dumps(tf_config)
    raw = raw if len(raw) <= 500 else raw[:500] + "..."
    if isinstance(tf_config, str):
        try:
            config = json.loads(tf_config)
        except json.JSONDecodeError as e:
            raise _tf_config_error(f"It is not valid JSON ({e}).", raw) from None
    else:
        config = tf_config
    if not isinstance(config, dict):
        raise _tf_config_error(
            f"It must be a JSON object, got {type(config).__name__}.", raw
        )
    cluster = config.get("cluster")
    if not isinstance(cluster, dict):
        raise _tf_config_error("It must have a `cluster` object.", raw)
    unknown = sorted(set(cluster) - set(CLUSTER_JOBS))
    if unknown:
        raise _tf_config_error(
            f"`cluster` may only list the jobs {list(CLUSTER_JOBS)} "
            f"(parameter servers are not supported), got {unknown}.",
            raw,
        )
    workers = cluster.get("worker")
    if not isinstance(workers, list) or not workers:
        raise _tf_config_error(
            "`cluster.worker` must be a non-empty list of 'host:port' strings.",
            raw,
        )
    addresses = []
    for job in CLUSTER_JOBS:
        if job not in cluster:
            continue
        tasks = cluster[job]
        if not isinstance(tasks, list) or not tasks:
            raise _tf_config_error(
                f"`cluster.{job}` must be a non-empty list of 'host:port' strings.",
                raw,
            )
        if job in ("chief", "evaluator") and len(tasks) != 1:
            raise _tf_config_error(
                f"`cluster.{job}` must hold exactly one address, got {len(tasks)}.",
                raw,
            )
        for i, address in enumerate(tasks):
            _check_address(job, i, address, raw)
        addresses += tasks
    duplicates = sorted({a for a in addresses if addresses.count(a) > 1})
    if duplicates:
        raise _tf_config_error(
            f"Every task needs its own address, got duplicates {duplicates}.", raw
        )
    task = config.get("task")
    if not isinstance(task, dict):
        raise _tf_config_error(
            "It must have a `task` object with `type` and `index`.", raw
        )
    task_type = task.get("type")
    if task_type not in TASK_TYPES:
        raise _tf_config_error(
            f"`task.type` must be one of {list(TASK_TYPES)} for training, "
            f"got {task_type!r}.",
            raw,
        )
    if task_type not in cluster:
        raise _tf_config_error(
            f"`task.type` is {task_type!r} but `cluster` has no {task_type!r} job.",
            raw,
        )
    index = task.get("index")
    count = len(cluster[task_type])
    if (
        not isinstance(index, numbers.Integral)
        or isinstance(index, bool)
        or not 0 <= index < count
    ):
        raise _tf_config_error(
            f"`task.index` must be an int in [0, {count}) (the position of "
            f"this task in `cluster.{task_type}`), got {index!r}.",
            raw,
        )
    return config


def _expected_multi_worker_replicas(config):
    workers = len(config["cluster"]["worker"]) + len(config["cluster"].get("chief", []))
    gpus = len(tf.config.list_physical_devices("GPU"))
    return workers * max(gpus, 1)


# Strategies --------------------------------------------------------------


def get_strategy(name="auto"):
    """Returns a `tf.distribute` strategy.

    Args:
        name: one of
            - `"auto"`: mirrored over all GPUs when there are several, else
              the default strategy (one device);
            - `"one_device"`: the default strategy;
            - `"mirrored"`: `MirroredStrategy` over the local GPUs (or the
              CPU, or logical CPU devices when configured);
            - `"multi_worker"`: `MultiWorkerMirroredStrategy` across the
              hosts listed in the `TF_CONFIG` environment variable, checked
              first with `check_tf_config`. TensorFlow configures collective
              ops at start-up, so build this strategy before running any
              TensorFlow op in the process.
            A `tf.distribute.Strategy` is returned as is.

    Raises:
        ValueError: for an unknown name (with the closest valid one) or an
            invalid `TF_CONFIG`.
        RuntimeError: for `"multi_worker"` when TensorFlow already ran ops
            (or configured collectives) in this process.
    """
    if isinstance(name, tf.distribute.Strategy):
        return name
    check_choice("strategy", name, STRATEGIES, cutoff=0.5)
    if name == "multi_worker":
        check_tf_config()
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except (RuntimeError, ValueError) as e:
            message = str(e)
            if "program startup" not in message and "already configured" not in message:
                raise
            raise RuntimeError(
                "strategy='multi_worker' must be created once, before "
                "TensorFlow runs any op in this process (collective ops are configured "
                "at start-up): call keras_ssl.distribute.setup() / "
                f"get_strategy() first. TensorFlow said: {e}"
            ) from None
    if name == "auto" and os.environ.get("TF_CONFIG"):
        logger.warning(
            "TF_CONFIG is set but strategy='auto' trains on this host only; "
            "pass strategy='multi_worker' to train across the workers it lists."
        )
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def num_workers(strategy):
    """How many workers (processes) a strategy spans: 1 unless it is a
    multi-worker strategy with a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return 1
    spec = resolver.cluster_spec().as_dict()
    return max(len(spec.get("worker", [])) + len(spec.get("chief", [])), 1)


def check_global_batch_size(strategy, batch_size):
    """Checks that the global batch splits evenly over the replicas.

    Each replica gets `batch_size / num_replicas_in_sync` examples; with an
    uneven split the replicas see different batch sizes and the last step of
    every epoch gets a ragged batch.

    Args:
        strategy: a `tf.distribute.Strategy` (or anything with
            `num_replicas_in_sync`), or an int number of replicas.
        batch_size: the global batch size, a positive int.

    Returns:
        The per-replica batch size.

    Raises:
        ValueError: naming both numbers and the nearest valid batch sizes.
    """
    if (
        not isinstance(batch_size, numbers.Integral)
        or isinstance(batch_size, bool)
        or batch_size < 1
    ):
        raise ValueError(
            f"Argument `batch_size` must be a positive int. "
            f"Received: batch_size={batch_size!r}"
        )
    replicas = (
        strategy
        if isinstance(strategy, numbers.Integral)
        else strategy.num_replicas_in_sync
    )
    if batch_size % replicas:
        lower = batch_size // replicas * replicas
        nearest = [n for n in (lower, lower + replicas) if n > 0]
        raise ValueError(
            "Argument `batch_size` (the global batch) must be divisible by "
            f"the number of replicas in sync ({replicas}). Received: "
            f"batch_size={batch_size} with num_replicas_in_sync={replicas}. "
            f"Use batch_size={' or '.join(str(n) for n in nearest)}."
        )
    return batch_size // replicas


# Mixed precision ---------------------------------------------------------


def _gpu_supports_float16():
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        capability = details.get("compute_capability")
        if capability is not None and tuple(capability) < (7, 0):
            return False
    return True


def resolve_mixed_precision(policy="off"):
    """The Keras dtype policy name that `policy` stands for on this machine.

    - `"off"`: `"float32"`.
    - `"mixed_float16"` / `"mixed_bfloat16"`: themselves.
    - `"auto"`: `"mixed_float16"` with a GPU (compute capability >= 7.0);
      without a GPU, `"mixed_bfloat16"` on CPUs with native bfloat16
      instructions (`avx512_bf16` / `amx_bf16`, oneDNN on), where SimCLR and MLM
      train steps took 0.68-0.92x the float32 time, else `"float32"`
      (without native bfloat16 they took 1.8-2.4x; numbers at the top of
      this module).

    Returns:
        `(policy_name, reason)`.
    """
    check_choice("mixed_precision", policy, (*PRECISIONS, "float32"), cutoff=0.5)
    if policy in ("off", "float32"):
        return "float32", "mixed precision off"
    if policy != "auto":
        return policy, "requested"
    if not tf.config.list_physical_devices("GPU"):
        if _cpu_has_native_bfloat16():
            return "mixed_bfloat16", (
                "no GPU, CPU with native bfloat16: train steps measured "
                "at 0.68-0.92x the float32 step time"
            )
        return "float32", (
            "no GPU, CPU without native bfloat16: mixed_bfloat16 measured "
            "at 1.8-2.4x the float32 step time"
        )
    if not _gpu_supports_float16():
        return "float32", "GPU compute capability < 7.0: float16 is not faster"
    return "mixed_float16", "GPU: float16 compute, float32 variables"


def set_mixed_precision(policy="off"):
    """Sets the global Keras dtype policy; returns the previous policy name.

    Layers built afterwards compute in the policy's dtype and keep float32
    variables; the objectives of `keras_ssl` models are computed in float32.
    Under `"mixed_float16"`, `model.compile` wraps the optimizer in a
    `keras.optimizers.LossScaleOptimizer` and `SSLModel.train_step` scales
    the loss through `optimizer.scale_loss`, so gradients do not underflow.

    This is global (per-thread) state: build models after calling it, and
    restore it afterwards with `set_mixed_precision(previous)` or use
    `mixed_precision_scope`.

    Args:
        policy: `"off"` (float32; `"float32"` is accepted as an alias),
            `"auto"` (see `resolve_mixed_precision`), `"mixed_float16"` or
            `"mixed_bfloat16"`.

    Returns:
        The name of the policy in force before the call.

    Example:

    >>> previous = set_mixed_precision("mixed_bfloat16")
    >>> set_mixed_precision(previous)
    'mixed_bfloat16'
    """
    name, reason = resolve_mixed_precision(policy)
    previous = keras.config.dtype_policy().name
    if name == "mixed_float16" and not tf.config.list_physical_devices("GPU"):
        logger.warning(
            "mixed_float16 without a GPU: float16 is emulated on CPU and "
            "usually slower than float32."
        )
    if policy == "auto":
        logger.info("Mixed precision 'auto' -> %s (%s).", name, reason)
    keras.config.set_dtype_policy(name)
    return previous


@contextlib.contextmanager
def mixed_precision_scope(policy="off"):
    """Sets the dtype policy like `set_mixed_precision` and restores it after.

    Example:

    >>> with mixed_precision_scope("mixed_bfloat16"):
    ...     layer = keras.layers.Dense(4)
    >>> layer.compute_dtype, layer.variable_dtype
    ('bfloat16', 'float32')
    """
    previous = keras.config.dtype_policy()
    set_mixed_precision(policy)
    try:
        yield keras.config.dtype_policy().name
    finally:
        keras.config.set_dtype_policy(previous)


# XLA ---------------------------------------------------------------------


def _replicas_on_cpu(strategy):
    """Whether the strategy's replicas run on CPU devices."""
    try:
        devices = strategy.extended.worker_devices
    except AttributeError:
        return not tf.config.list_logical_devices("GPU")
    return all(
        tf.DeviceSpec.from_string(d).device_type in (None, "CPU") for d in devices
    )


def _check_jit_compile(requested):
    if not (
        requested is True
        or requested is False
        or (isinstance(requested, str) and requested == "auto")
    ):
        raise ValueError(
            "Argument `jit_compile` must be 'auto', True or False. "
            f"Received: jit_compile={requested!r}"
        )


def resolve_jit_compile(strategy=None, requested="auto"):
    """Decides whether `fit` should use XLA, logging the reason when not.

    - Multi-replica strategies on CPU devices: off, even when requested.
      `mirrored` over logical CPU devices fails with "Trying to access
      resource ... located in device CPU:1 from device CPU:0";
      `multi_worker` on CPU hosts fails with "No registered
      'CollectiveGatherV2' OpKernel for XLA_CPU_JIT devices" (measured
      here with two local workers, TF 2.21).
    - `"auto"` under a multi-replica strategy on GPUs: off, as Keras
      decides itself (XLA + MirroredStrategy + sparse embedding gradients
      has known failures upstream); `True` forces it on.
    - `"auto"` without a GPU: off. Measured on the 2-core CPU machines this
      project is built on (TF 2.21, `benchmarks/throughput.py`), XLA made
      the SimCLR train step 1.6x slower (conv encoder, batch 256) and the
      MLM step 0.86x the time (length 128, batch 32): pass `True` for text
      methods on CPU.
    - `"auto"` with op determinism enabled: off (Keras does the same: not
      every op has a deterministic XLA kernel).
    - `"auto"` with a GPU, one replica: on.
    """
    _check_jit_compile(requested)
    if requested is False:
        return False
    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    if replicas > 1 and _replicas_on_cpu(strategy):
        # By name: the class is also exported as CollectiveAllReduceStrategy.
        if type(strategy).__name__ in _MULTI_WORKER_CLASSES:
            reason = (
                "the cross-worker collectives have no XLA CPU kernels: "
                "'No registered CollectiveGatherV2 OpKernel for XLA_CPU_JIT'"
            )
        else:
            reason = "jit_compile fails to access resources across logical CPU devices"
        logger.warning(
            "XLA disabled: %d replicas on CPU devices (%s).", replicas, reason
        )
        return False
    if requested is True:
        return True
    if not tf.config.list_logical_devices("GPU"):
        logger.info(
            "XLA off: no GPU (on CPU, XLA measured 1.6x slower for SimCLR, "
            "0.86x the time for MLM); pass jit_compile=True to force it."
        )
        return False
    if replicas > 1:
        logger.info(
            "XLA off: %d replicas (Keras's own 'auto' choice under "
            "tf.distribute); pass jit_compile=True to force it.",
            replicas,
        )
        return False
    if tf.config.is_op_determinism_enabled():
        logger.info("XLA off: op determinism is enabled.")
        return False
    return True


# One entry point ---------------------------------------------------------


def setup(strategy="auto", batch_size=None, mixed_precision="off", jit_compile="auto"):
    """Builds the strategy, checks the batch, sets precision, resolves XLA.

    Every argument is validated before anything is built, so a bad value
    fails fast (before data loading or model building). Call it first in a
    training program (a `multi_worker` strategy must exist before any
    TensorFlow op runs), then build and compile the model under
    `strategy.scope()` with `jit_compile=` the returned flag.

    Note that `mixed_precision` sets the global Keras dtype policy (see
    `set_mixed_precision`); restore it with
    `keras.config.set_dtype_policy(previous)` when the caller must not leak
    it.

    Args:
        strategy: a name for `get_strategy` or a `tf.distribute.Strategy`.
        batch_size: the global batch size, checked against the number of
            replicas; `None` skips the check.
        mixed_precision: `"off"`, `"auto"`, `"mixed_float16"` or
            `"mixed_bfloat16"` (see `set_mixed_precision`).
        jit_compile: `"auto"`, `True` or `False` (see `resolve_jit_compile`).

    Returns:
        `(strategy, jit_compile)`: the `tf.distribute.Strategy` and the bool
        to pass to `model.compile(jit_compile=...)`.

    Example:

    >>> strategy, jit = setup("mirrored", batch_size=256)
    >>> with strategy.scope():
    ...     model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    ...     model.compile(optimizer="adam", loss="mse", jit_compile=jit)
    """
    # Validate everything first: nothing below may fail on a typo.
    if not isinstance(strategy, tf.distribute.Strategy):
        check_choice("strategy", strategy, STRATEGIES, cutoff=0.5)
    if batch_size is not None:
        check_global_batch_size(1, batch_size)
    resolve_mixed_precision(mixed_precision)
    _check_jit_compile(jit_compile)
    if strategy == "multi_worker":
        config = check_tf_config()
        if batch_size is not None:
            # Before the strategy waits for the other workers to connect.
            check_global_batch_size(_expected_multi_worker_replicas(config), batch_size)

    strategy_obj = get_strategy(strategy)
    replicas = strategy_obj.num_replicas_in_sync
    if batch_size is not None:
        check_global_batch_size(strategy_obj, batch_size)
    set_mixed_precision(mixed_precision)
    jit = resolve_jit_compile(strategy_obj, jit_compile)
    logger.info(
        "Distribution: %s with %d replica(s), dtype policy %s, jit_compile=%s.",
        type(strategy_obj).__name__,
        replicas,
        keras.config.dtype_policy().name,
        jit,
    )
    return strategy_obj, jit
