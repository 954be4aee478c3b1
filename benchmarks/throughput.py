"""Train-step throughput of keras_ssl against the plain-Keras way, one run.

Prints one JSON line per case (and XLA setting): keras_ssl's step and a
reference step written the straightforward way (`reference_steps.py`: the
keras.io SimCLR example's structure; keras-hub's `BertMaskedLM` with its
preprocessor in `fit`), built in one process with the same encoder sizes,
batch and data, and timed in interleaved blocks so that the load of this
shared machine hits both alike. Only the ratios are meant to be compared.

    python benchmarks/throughput.py                       # all cases, ~9 min here
    python benchmarks/throughput.py --cases simclr_28x28 --xla off
    python benchmarks/throughput.py --quick               # smoke run, ~1 min

Cases:
- `simclr_28x28`: Fashion-MNIST, conv encoder 32-64-128 (global pooling),
  projection 256-64, batch 256.
- `simclr_32x32`: the same images padded to 32x32 and repeated over three
  channels (a CIFAR-sized RGB input), same encoder and batch.
- `mlm_128`: WordNet glosses, sequence length 128, 2 Transformer layers of
  width 128, 2 heads, feed-forward 512, vocabulary 8,000 WordPieces,
  batch 32. keras_ssl tokenizes once before training; the reference maps
  tokenization and masking over every batch (as `BertMaskedLM.fit` does).

Implementations in each case: `reference`; `ours` (float32, as
`keras-ssl pretrain` runs by default); `ours_mixed` (the policy that
`mixed_precision="auto"` picks on this machine, when it is not float32);
and for images at XLA off `ours_views_in_pipeline`, the same SimCLR fed
views made in `tf.data` instead of inside the step (the placement check).

Each line holds, per implementation: the median step time over all timed
steps, images/s or tokens/s (token positions, padding included, the same
count for both), the speed-up over the reference, whether `fit` really ran
under XLA, and (unless `--no-rss`) the peak resident memory of a separate
process that builds and trains only that step. `ours` also gets the FLOPs
of one train step (TensorFlow's graph profiler) and the achieved FLOP/s as
a fraction of a large float32 matmul measured in the same run.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.app.pretrain import tokenize
from keras_ssl.augmentation import ViewAugmenter
from keras_ssl.datasets import load
from keras_ssl.distribute import mixed_precision_scope, resolve_mixed_precision
from keras_ssl.encoders import conv_encoder, transformer_encoder
from keras_ssl.models import MaskedLanguageModel, SimCLR
from keras_ssl.models.image_inputs import prepare_images
from keras_ssl.tokenizers import TextPreprocessor, train_word_piece_vocabulary

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_steps import (  # noqa: E402
    ReferenceSimCLR,
    reference_conv_encoder,
    reference_masked_lm,
)

CASES = ("simclr_28x28", "simclr_32x32", "mlm_128")


# Data ----------------------------------------------------------------------


def image_data(case, size):
    x = load("fashion_mnist", split="train").x
    if size:
        x = x[:size]
    if case == "simclr_32x32":
        x = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)))
        x = np.repeat(x, 3, axis=-1)
    return np.ascontiguousarray(x)


def text_data(size, vocabulary_size):
    texts = np.asarray(load("wordnet").x, dtype=object).astype(str)
    if size:
        texts = texts[:size]
    vocabulary = train_word_piece_vocabulary(list(texts), vocabulary_size)
    return texts, vocabulary


# Models and their input pipelines -------------------------------------------


class _ViewsFromPipeline(SimCLR):
    """SimCLR fed with two views made in `tf.data` (placement check)."""

    def make_views(self, views):
        return views["view_1"], views["view_2"]


def _compile(model, learning_rate, xla):
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate), jit_compile=xla)


def build_image(impl, x, args, xla):
    """Returns `(model, dataset)` for one image implementation."""
    keras.utils.set_random_seed(0)
    batch = args.image_batch
    widths = tuple(int(w) for w in args.widths.split(","))
    slices = tf.data.Dataset.from_tensor_slices(x)
    if impl == "reference":
        model = ReferenceSimCLR(reference_conv_encoder(x.shape[1:], widths), seed=0)
        _compile(model, 2e-3, xla)
        # keras.io: shuffle a few batches' worth, batch, prefetch.
        dataset = slices.shuffle(10 * batch, seed=0).batch(batch, drop_remainder=True)
        return model, dataset.repeat().prefetch(tf.data.AUTOTUNE)
    # As `keras_ssl.app.pretrain` feeds it.
    dataset = slices.shuffle(min(len(x), 100_000), seed=0).batch(
        batch, drop_remainder=True
    )
    encoder = conv_encoder(x.shape[1:], widths=widths, blocks_per_stage=0)
    if impl == "ours_views_in_pipeline":
        model = _ViewsFromPipeline(encoder, seed=0)
        augmenter = ViewAugmenter(x.shape[1:3], seed=0)

        def views(images):
            images = prepare_images(images)
            return {
                "view_1": augmenter(images, training=True),
                "view_2": augmenter(images, training=True),
            }

        dataset = dataset.map(views, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        model = SimCLR(encoder, seed=0)
    _compile(model, 2e-3, xla)
    return model, dataset.repeat().prefetch(tf.data.AUTOTUNE)


def build_text(impl, texts, vocabulary, args, xla, cache):
    """Returns `(model, dataset)` for one text implementation."""
    keras.utils.set_random_seed(0)
    length, batch = args.sequence_length, args.text_batch
    sizes = dict(
        hidden_dim=args.hidden_dim,
        num_layers=args.num_layers,
        num_heads=args.num_heads,
        intermediate_dim=args.intermediate_dim,
        dropout=0.1,
    )
    if impl == "reference":
        model = reference_masked_lm(vocabulary, length, **sizes)
        model.compile(jit_compile=xla)  # keras-hub defaults: Adam(5e-5), ...
        dataset = tf.data.Dataset.from_tensor_slices(texts)
        dataset = dataset.shuffle(len(texts), seed=0).batch(batch, drop_remainder=True)
        return model, dataset.repeat()
    preprocessor = TextPreprocessor(vocabulary, length)
    if "ids" not in cache:  # once per run, as `pretrain` does
        start = time.perf_counter()
        cache["ids"] = tokenize(preprocessor, texts)
        cache["tokenize_once_s"] = time.perf_counter() - start
    encoder = transformer_encoder(len(vocabulary), length, **sizes)
    model = MaskedLanguageModel(encoder, preprocessor, seed=0)
    _compile(model, 1e-3, xla)
    ids = cache["ids"]
    dataset = tf.data.Dataset.from_tensor_slices(ids)
    dataset = dataset.shuffle(len(ids), seed=0).batch(batch, drop_remainder=True)
    return model, dataset.repeat().prefetch(tf.data.AUTOTUNE)


# Timing --------------------------------------------------------------------


class _StepClock(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())


def run_steps(model, dataset, steps):
    """Trains `steps` + 1 steps; returns the `steps` step times (seconds).

    The first step of a `fit` call pays for the iterator (and, the first
    time, for tracing) and is not counted.
    """
    clock = _StepClock()
    model.fit(
        dataset, epochs=1, steps_per_epoch=steps + 1, verbose=0, callbacks=[clock]
    )
    return list(np.diff(clock.times))


def matmul_gflops(n=2048, repeats=5):
    """Best float32 `n x n` matmul rate of this machine, in GFLOP/s."""
    a = tf.random.uniform((n, n))
    b = tf.random.uniform((n, n))
    product = tf.function(lambda a, b: tf.reduce_sum(tf.matmul(a, b)))
    product(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        product(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def step_flops(model, dataset):
    """FLOPs of one `train_step` on one batch (TensorFlow graph profiler)."""
    batch = next(iter(dataset))
    spec = tf.nest.map_structure(tf.TensorSpec.from_tensor, batch)
    concrete = tf.function(model.train_step).get_concrete_function(spec)
    from tensorflow.python.profiler import model_analyzer, option_builder

    options = option_builder.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return model_analyzer.profile(concrete.graph, options=options).total_float_ops


# One case --------------------------------------------------------------------


def implementations(case, xla):
    impls = ["reference", "ours"]
    policy = resolve_mixed_precision("auto")[0]
    if policy != "float32":
        impls.append("ours_mixed")
    if case.startswith("simclr") and not xla:
        impls.append("ours_views_in_pipeline")
    return impls, policy


def build(case, impl, data, args, xla, cache):
    policy = resolve_mixed_precision("auto")[0] if impl == "ours_mixed" else "off"
    with mixed_precision_scope(policy):
        if case.startswith("simclr"):
            model, dataset = build_image(impl, data, args, xla)
        else:
            model, dataset = build_text(impl, *data, args, xla, cache)
        # Trace and warm up under the same policy.
        run_steps(model, dataset, args.warmup)
    return model, dataset


def load_case_data(case, args):
    if case.startswith("simclr"):
        return image_data(case, args.train_size)
    return text_data(args.train_size, args.vocabulary_size)


def items_per_step(case, args):
    if case.startswith("simclr"):
        return args.image_batch, "images_per_s"
    return args.text_batch * args.sequence_length, "tokens_per_s"


def rss_child(case, impl, xla, args):
    """Peak RSS of a fresh process that trains only `impl` (MiB)."""
    command = [
        sys.executable,
        os.path.abspath(__file__),
        *args.argv,
        "--rss-child",
        f"{case}:{impl}:{int(xla)}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    lines = [s for s in done.stdout.splitlines() if s.startswith("RSS ")]
    if done.returncode or not lines:
        return {"error": (done.stderr or "no output").strip().splitlines()[-1][:300]}
    return json.loads(lines[-1][4:])


def run_case(case, xla, args):
    data = load_case_data(case, args)
    impls, policy = implementations(case, xla)
    per_item, unit = items_per_step(case, args)
    cache, models, results = {}, {}, {}
    for impl in impls:
        try:
            models[impl] = build(case, impl, data, args, xla, cache)
        except Exception as e:  # e.g. a reference that XLA cannot compile
            message = str(e).strip().splitlines()
            results[impl] = {"error": f"{type(e).__name__}: {message[:1]}"[:400]}
    times = {impl: [] for impl in models}
    for _ in range(args.rounds):
        for impl, (model, dataset) in models.items():
            times[impl] += run_steps(model, dataset, args.steps)
    matmul = matmul_gflops()
    for impl, (model, _) in models.items():
        step = float(np.median(times[impl]))
        results[impl] = {
            "step_ms": round(1000 * step, 2),
            unit: round(per_item / step, 1),
            "jit_compile": bool(model.jit_compile),
            "dtype_policy": policy if impl == "ours_mixed" else "float32",
        }
    reference = results.get("reference", {})
    for impl, result in results.items():
        if impl != "reference" and unit in result and unit in reference:
            result["speedup"] = round(result[unit] / reference[unit], 3)
    for impl in ("ours", "ours_mixed"):
        if impl in models and "step_ms" in results[impl]:
            try:
                with mixed_precision_scope(results[impl]["dtype_policy"]):
                    flops = step_flops(*models[impl])
            except Exception as e:
                results[impl]["flops_error"] = f"{type(e).__name__}: {e}"[:300]
                continue
            achieved = flops / (results[impl]["step_ms"] / 1000) / 1e9
            results[impl]["gflop_per_step"] = float(f"{flops / 1e9:.4g}")
            results[impl]["achieved_gflop_per_s"] = float(f"{achieved:.4g}")
            results[impl]["fraction_of_matmul"] = float(f"{achieved / matmul:.3g}")
    if args.rss:
        for impl in models:
            results[impl].update(rss_child(case, impl, xla, args))
    image = case.startswith("simclr")
    batch_size = args.image_batch if image else args.text_batch
    line = {
        "case": case,
        "xla": xla,
        "batch_size": batch_size,
        "timed_steps_per_impl": args.steps * args.rounds,
        "matmul_gflop_per_s": round(matmul, 2),
        **({"tokenize_once_s": round(cache["tokenize_once_s"], 2)} if cache else {}),
        "results": results,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__}",
    }
    return line


def _high_water_mib():
    """This process's peak resident memory (MiB), from `/proc/self/status`.

    `VmHWM` starts afresh at `exec`; `getrusage`'s `ru_maxrss` would also
    count the memory of the parent that forked this process.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_rss_child(spec, args):
    case, impl, xla = spec.split(":")
    xla = bool(int(xla))
    data = load_case_data(case, args)
    before = _high_water_mib()
    model, dataset = build(case, impl, data, args, xla, {})
    run_steps(model, dataset, args.steps)
    peak = _high_water_mib()
    print(
        "RSS "
        + json.dumps(
            {
                "peak_rss_mib": round(peak, 1),
                "rss_before_model_mib": round(before, 1),
            }
        ),
        flush=True,
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--xla", default="off,on", help="off, on or off,on")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per block")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved blocks")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--image-batch", type=int, default=256)
    parser.add_argument("--widths", default="32,64,128")
    parser.add_argument("--text-batch", type=int, default=32)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--hidden-dim", type=int, default=128)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--num-heads", type=int, default=2)
    parser.add_argument("--intermediate-dim", type=int, default=512)
    parser.add_argument("--vocabulary-size", type=int, default=8000)
    parser.add_argument(
        "--train-size", type=int, default=None, help="use the first N examples"
    )
    parser.add_argument(
        "--no-rss", dest="rss", action="store_false", help="skip the RSS processes"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny smoke run: small models, 2 steps, no RSS processes",
    )
    parser.add_argument("--rss-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.quick:
        args.steps, args.rounds, args.warmup, args.rss = 2, 1, 1, False
        args.image_batch, args.text_batch, args.widths = 16, 4, "4,8"
        args.sequence_length, args.hidden_dim, args.intermediate_dim = 16, 16, 32
        args.vocabulary_size, args.train_size = 200, args.train_size or 512
    unknown = sorted(set(args.cases.split(",")) - set(CASES))
    if unknown:
        parser.error(f"--cases: unknown {unknown}; expected some of {list(CASES)}")
    xla = args.xla.split(",")
    if not xla or set(xla) - {"off", "on"}:
        parser.error(f"--xla: expected off, on or off,on; received {args.xla!r}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.rss_child:
        run_rss_child(args.rss_child, args)
        return
    for case in args.cases.split(","):
        for xla in args.xla.split(","):
            print(json.dumps(run_case(case, xla == "on", args)), flush=True)


if __name__ == "__main__":
    main()
