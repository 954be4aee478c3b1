"""Streaming input at scale: flat memory, and input that keeps up with the step.

Prints one JSON line per case. Every training run is a real
`keras_ssl.app.pretrain.pretrain(..., epochs=1, steps_per_epoch=N)` call in
a fresh child process, which reports its peak resident memory (`VmHWM`
from `/proc/self/status`, which starts afresh at `exec`) and, from a
callback that notes the time at the end of every batch, its steps/s over
the `--steps` steps that follow `--warmup` warm-up steps (iterator start,
tracing and the first allocations excluded; the run checkpoints only at
its end, `checkpoint_every=None`, and does no monitoring). Each ratio
divides two figures measured in the same invocation, so it needs no FLOP
count and no machine constant: only throughputs or memory peaks of the
same model, batch and number of steps are compared.

    python benchmarks/input_pipeline.py                 # all cases, ~12 min here
    python benchmarks/input_pipeline.py --cases rss_simclr_28x28,feed_mlm
    python benchmarks/input_pipeline.py --build-only    # only build the data
    python benchmarks/input_pipeline.py --quick         # smoke run, ~3 min here

("Here": 2 CPU cores; the first full run also spends ~3 min building the
data, reused afterwards.) The data is built once under `--data-dir`
(default `~/.cache/keras_ssl/input_pipeline`) and reused when present and
complete (checked by the shard index count, the text file's size, or the
number of files); each line reports `build_seconds` (measured when it was
built) and whether this run `reused` it:
- Fashion-MNIST's 60,000 training images as TFRecord shards (~10 s,
  33 MB), and the same written ten times, the first copy as is and nine
  with seeded random horizontal flips and shifts of up to 2 pixels, as
  600,000 images (~1.5 min, ~330 MB), both by `write_shards` (PNG records,
  10,000 per shard, checksummed index);
- the 117,659 WordNet glosses as a text file, and ten times (nine copies
  with a seeded word shuffle in each line) as 1,176,590 lines (~5 s,
  86 MB), streamed by `stream_text_file`;
- 96x96 RGB JPEGs (Fashion-MNIST upscaled with a seeded colour tint and
  background, one subfolder per class): as many as one epoch of warm-up
  and timed steps needs at the batch (29,000 by default: `pretrain` caps
  an epoch at one pass), ~20 s, 115 MB; and their shards (8 shards, JPEG
  bytes kept, ~40 s).

Cases:
- `rss_simclr_28x28`: SimCLR (default model, batch 256) streamed from the
  60k shards and from the 600k shards: `peak_rss_ratio` = peak RSS of the
  600k run / peak RSS of the 60k run (flat memory: <= 1.10).
- `rss_mlm`: MLM (default model, batch 128) streamed from the 117k-line
  and the 1.17M-line text files (`stream_text_file`): the same ratio. The
  vocabulary is learned from a seeded sample of at most 200,000 streamed
  lines (`TextRecipe.vocabulary_sample`), so the larger corpus samples
  200k lines where the smaller one gives all its 117k.
- `feed_simclr_28x28`: SimCLR from the 60k images in memory (a
  `LabeledData`) and streamed from their shards: `stream_to_memory_ratio`
  = steps/s streamed / steps/s in memory (the input keeps up: >= 0.9).
  The two runs alternate `--repeats` times (3) and each side keeps its
  median run (`steps_per_s_runs` lists them all). The 28x28 shards hold raw
  pixels (`write_shards(image_format="auto")`).
- `feed_mlm`: MLM from the 117k glosses in memory (tokenized once before
  training) and streamed from the text file (tokenized per batch in the
  pipeline): the same ratio.
- `jpeg_folder_96`: 96x96x3 JPEGs, SimCLR with the default encoder.
  `pipeline_to_step_ratio` = images/s that
  `stream_image_folder(path, color_mode="rgb").batches(b, shuffle=True,
  seed=0, repeat=True)` delivers when iterated alone / images/s the SimCLR
  step consumes from in-memory arrays (> 1: the pipeline alone outpaces
  the step). `folder_input_bound_fraction` = max(0, 1 - steps/s training
  streamed from the folder / steps/s from memory), the fraction of a
  training step spent waiting for input; `shards_input_bound_fraction`
  the same from the folder's JPEG shards.

Images/s = steps/s x batch; tokens/s = steps/s x batch x sequence length
(token positions, padding included).
"""

import argparse
import json
import math
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.datasets import (
    LabeledData,
    load,
    load_image_folder,
    read_index,
    stream_image_folder,
    write_shards,
)

CASES = (
    "rss_simclr_28x28",
    "rss_mlm",
    "feed_simclr_28x28",
    "feed_mlm",
    "jpeg_folder_96",
)
COPIES = 10
RSS_TARGET = 1.10
FEED_TARGET = 0.9
SEQUENCE_LENGTH = 32  # the MLM recipe's default, given explicitly
DEFAULT_DATA_DIR = os.path.join(
    os.path.expanduser("~"), ".cache", "keras_ssl", "input_pipeline"
)


# Sizes -----------------------------------------------------------------------


def sizes(args):
    """Data sizes and model settings of a full or a `--quick` run."""
    if args.quick:
        return {
            "images": 600,
            "texts": 300,
            "jpegs": 64,
            "simclr": {"widths": [4, 8]},
            "mlm": {
                "sequence_length": 16,
                "vocabulary_size": 200,
                "hidden_dim": 16,
                "num_layers": 1,
                "num_heads": 2,
                "intermediate_dim": 32,
            },
        }
    return {
        "images": 60_000,
        "texts": None,  # all the glosses
        "jpegs": 5_000,
        "simclr": {},
        "mlm": {"sequence_length": SEQUENCE_LENGTH},
    }


# Data, built once into --data-dir ----------------------------------------------


def _read_meta(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _write_meta(path, meta):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(meta, f)
    os.replace(tmp, path)


def _remove(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def _cached(path, count, complete, build):
    """Builds `path` with `build()` unless `complete()` says it holds
    `count` examples; returns what the line reports about it."""
    meta_path = path + ".build.json"
    meta = _read_meta(meta_path)
    if meta is not None and meta.get("count") == count and complete():
        return {**meta, "path": path, "reused": True}
    _remove(path)
    start = time.perf_counter()
    build()
    seconds = time.perf_counter() - start
    meta = {"count": count, "build_seconds": round(seconds, 2)}
    if os.path.isfile(path):
        meta["bytes"] = os.path.getsize(path)
    _write_meta(meta_path, meta)
    if not complete():
        raise RuntimeError(f"Building {path!r} did not give {count} examples.")
    return {**meta, "path": path, "reused": False}


def _base_images(n):
    train = load("fashion_mnist", split="train")
    return train.x[:n], train.y[:n], list(train.label_names)


def augmented_copy(x, seed, max_shift=2):
    """`x` with seeded random horizontal flips and shifts (zero fill)."""
    rng = np.random.default_rng(seed)
    n, height, width = x.shape[:3]
    out = x.copy()
    flip = rng.random(n) < 0.5
    out[flip] = out[flip][:, :, ::-1]
    dy, dx = rng.integers(-max_shift, max_shift + 1, size=(2, n))
    m = max_shift
    padded = np.pad(out, ((0, 0), (m, m), (m, m), (0, 0)))
    for sy in range(-m, m + 1):
        for sx in range(-m, m + 1):
            rows = np.nonzero((dy == sy) & (dx == sx))[0]
            out[rows] = padded[rows, m + sy : m + sy + height, m + sx : m + sx + width]
    return out


def image_shards(data_dir, n, copies):
    """Shards of `copies` x `n` Fashion-MNIST images (copy 0 unchanged)."""
    path = os.path.join(data_dir, f"fashion_mnist_{n * copies}")

    def complete():
        try:
            return read_index(path)[1]["count"] == n * copies
        except (OSError, ValueError):
            return False

    def build():
        x, y, names = _base_images(n)
        xs = [x] + [augmented_copy(x, seed) for seed in range(1, copies)]
        data = LabeledData(np.concatenate(xs), np.tile(y, copies), names)
        del xs
        write_shards(data, path, verbose=0)

    return _cached(path, n * copies, complete, build)


def _base_texts(n):
    texts = [str(t).replace("\n", " ").strip() for t in load("wordnet").x]
    texts = [t for t in texts if t]
    return texts[:n] if n else texts


def shuffled_words(texts, seed):
    """Each text's words in a seeded random order."""
    rng = random.Random(seed)
    out = []
    for text in texts:
        words = text.split()
        rng.shuffle(words)
        out.append(" ".join(words))
    return out


def text_file(data_dir, n, copies):
    """A text file of `copies` x the glosses (copy 0 unchanged), one per line."""
    count = len(_base_texts(n)) * copies
    path = os.path.join(data_dir, f"wordnet_{count}.txt")

    def complete():
        meta = _read_meta(path + ".build.json") or {}
        return os.path.isfile(path) and os.path.getsize(path) == meta.get("bytes")

    def build():
        texts = _base_texts(n)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            for seed in range(copies):
                lines = texts if seed == 0 else shuffled_words(texts, seed)
                f.write("\n".join(lines) + "\n")
        os.replace(tmp, path)

    return _cached(path, count, complete, build)


def _count_files(path):
    return sum(len(files) for _, _, files in os.walk(path))


def jpeg_folder(data_dir, n, size=96):
    """`n` RGB JPEGs of `size` x `size`: Fashion-MNIST upscaled with a
    seeded colour tint, one subfolder per class."""
    path = os.path.join(data_dir, f"jpeg{size}_{n}")

    def build():
        x, y, names = _base_images(n)
        rng = np.random.default_rng(0)
        tint = rng.uniform(0.3, 1.0, size=(n, 1, 1, 3)).astype("float32")
        background = rng.uniform(0, 60, size=(n, 1, 1, 3)).astype("float32")
        tmp = path + ".tmp"
        _remove(tmp)
        folders = [name.replace("/", "_") for name in names]
        for folder in folders:
            os.makedirs(os.path.join(tmp, folder))
        for start in range(0, n, 500):
            chunk = slice(start, min(n, start + 500))
            big = tf.image.resize(x[chunk].astype("float32"), (size, size)).numpy()
            rgb = background[chunk] + big * tint[chunk]
            rgb = np.clip(np.round(rgb), 0, 255).astype("uint8")
            for i, image in zip(range(chunk.start, chunk.stop), rgb):
                jpeg = tf.io.encode_jpeg(image, quality=90).numpy()
                name = os.path.join(tmp, folders[y[i]], f"{i:06d}.jpg")
                with open(name, "wb") as f:
                    f.write(jpeg)
        os.rename(tmp, path)

    return _cached(path, n, lambda: _count_files(path) == n, build)


def jpeg_shards(data_dir, folder_info, num_shards=8):
    """The JPEG folder written by `write_shards` (JPEG bytes kept)."""
    n = folder_info["count"]
    path = folder_info["path"] + "_shards"

    def complete():
        try:
            return read_index(path)[1]["count"] == n
        except (OSError, ValueError):
            return False

    def build():
        shard_size = math.ceil(n / num_shards)
        write_shards(folder_info["path"], path, shard_size, color_mode="rgb", verbose=0)

    return _cached(path, n, complete, build)


# Child processes: one training run (or one pipeline) each -----------------------


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


class StepClock(keras.callbacks.Callback):
    """Notes the time at the end of every training batch."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())

    def rate(self, warmup):
        """Steps/s over the steps after the first `warmup` (and their
        count): from the end of step `warmup` to the end of the last."""
        timed = len(self.times) - warmup
        if warmup < 1 or timed < 1:
            raise ValueError(f"Need warmup >= 1 and timed steps >= 1: {warmup}")
        seconds = self.times[-1] - self.times[warmup - 1]
        return timed / seconds, timed, seconds


def _source(spec):
    """The `dataset` a child passes to `pretrain`."""
    kind, value = spec["source"]
    if kind == "path":
        return value
    if kind == "fashion_mnist":  # the first `value` training images, in memory
        x, y, names = _base_images(value)
        return LabeledData(x, y, names, name=f"fashion_mnist[:{value}]")
    if kind == "rgb_folder":  # pretrain reads folders in grayscale by default
        if spec["stream"]:
            return stream_image_folder(value, color_mode="rgb")
        return load_image_folder(value, color_mode="rgb")
    raise ValueError(f"Unknown source kind {kind!r}")


def child_train(spec):
    from keras_ssl.app.pretrain import pretrain

    dataset = _source(spec)
    before = _high_water_mib()
    clock = StepClock()
    warmup, steps = spec["warmup"], spec["steps"]
    with tempfile.TemporaryDirectory() as output_dir:
        start = time.perf_counter()
        result = pretrain(
            method=spec["method"],
            dataset=dataset,
            output_dir=output_dir,
            stream=spec["stream"],
            epochs=1,
            steps_per_epoch=warmup + steps,
            batch_size=spec["batch_size"],
            verbose=0,
            checkpoint_every=None,  # no checkpoint inside the timed steps
            model_kwargs=dict(spec["model_kwargs"]),
            callbacks=[clock],
            seed=0,
        )
        seconds = time.perf_counter() - start
    rate, timed, timed_seconds = clock.rate(warmup)
    return {
        "steps": int(result["steps"]),
        "timed_steps": timed,
        "timed_seconds": float(f"{timed_seconds:.5g}"),
        "steps_per_s": rate,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(_high_water_mib(), 1),
        "rss_before_training_mb": round(before, 1),
    }


def child_pipeline(spec):
    """Images/s of `stream_image_folder(...).batches(...)` iterated alone."""
    data = stream_image_folder(spec["source"][1], color_mode="rgb")
    warmup, steps, batch = spec["warmup"], spec["steps"], spec["batch_size"]
    batches = iter(data.batches(batch, shuffle=True, seed=0, repeat=True))
    for _ in range(warmup):
        next(batches)
    start = time.perf_counter()
    images = 0
    for _ in range(steps):
        x, _ = next(batches)
        images += int(x.shape[0])
    seconds = time.perf_counter() - start
    return {
        "batches": steps,
        "images": images,
        "timed_seconds": float(f"{seconds:.5g}"),
        "images_per_s": images / seconds,
        "peak_rss_mb": round(_high_water_mib(), 1),
    }


def run_child(spec):
    """Runs one child process; returns its result (or an `error`)."""
    command = [sys.executable, os.path.abspath(__file__), "--child", json.dumps(spec)]
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=3600
        )
    except subprocess.TimeoutExpired:
        return {"error": "the child process ran over an hour"}
    lines = [s for s in done.stdout.splitlines() if s.startswith("RESULT ")]
    if done.returncode or not lines:
        tail = (done.stderr or "no output").strip().splitlines()[-3:]
        return {"error": " | ".join(tail)[-600:]}
    return json.loads(lines[-1][len("RESULT ") :])


# Cases -------------------------------------------------------------------------


def _train_spec(args, method, source, stream, model_kwargs, batch_size):
    return {
        "kind": "train",
        "method": method,
        "source": source,
        "stream": stream,
        "model_kwargs": model_kwargs,
        "batch_size": batch_size,
        "warmup": args.warmup,
        "steps": args.steps,
    }


def _throughput(result, per_step, unit):
    """Rounds steps/s and adds images/s or tokens/s."""
    if "steps_per_s" in result:
        rate = result["steps_per_s"]
        result["steps_per_s"] = float(f"{rate:.5g}")
        result[unit] = float(f"{rate * per_step:.5g}")
    return result


def _median_run(runs):
    """The run with the median steps/s (the lower middle of an even
    count), with every run's steps/s in `steps_per_s_runs`."""
    timed = [r for r in runs if "steps_per_s" in r]
    if not timed:
        return runs[0]
    timed.sort(key=lambda r: r["steps_per_s"])
    median = dict(timed[(len(timed) - 1) // 2])
    median["steps_per_s_runs"] = [r.get("steps_per_s") for r in runs]
    return median


def _ratio(numerator, denominator, key):
    if key in numerator and key in denominator:
        return round(numerator[key] / denominator[key], 4)
    return None


def _method_settings(case, args, size):
    if "mlm" in case:
        batch = args.batch_size or 128
        kw = size["mlm"]
        return "mlm", kw, batch, batch * kw["sequence_length"], "tokens_per_s"
    batch = args.batch_size or 256
    return "simclr", size["simclr"], batch, batch, "images_per_s"


def jpeg_count(args, size):
    """JPEGs in the folder: enough for one epoch of warm-up + timed steps
    (at least `size["jpegs"]`; a full run rounds up to thousands)."""
    needed = (args.batch_size or 256) * (args.warmup + args.steps)
    if not args.quick:
        needed = -(-needed // 1000) * 1000
    return max(size["jpegs"], needed)


def case_data(case, args, size):
    """Builds (or reuses) the data of `case`; returns what the line reports."""
    if case in ("rss_simclr_28x28", "feed_simclr_28x28"):
        data = {"small": image_shards(args.data_dir, size["images"], 1)}
        if case.startswith("rss_"):
            data["large"] = image_shards(args.data_dir, size["images"], COPIES)
        return data
    if case in ("rss_mlm", "feed_mlm"):
        data = {"small": text_file(args.data_dir, size["texts"], 1)}
        if case.startswith("rss_"):
            data["large"] = text_file(args.data_dir, size["texts"], COPIES)
        return data
    folder = jpeg_folder(args.data_dir, jpeg_count(args, size))
    return {"folder": folder, "shards": jpeg_shards(args.data_dir, folder)}


def case_rss(case, args, size, data):
    method, kw, batch, per_step, unit = _method_settings(case, args, size)
    line = {"case": case, "method": method, "batch_size": batch}
    for name, info in data.items():
        spec = _train_spec(args, method, ["path", info["path"]], True, kw, batch)
        result = _throughput(run_child(spec), per_step, unit)
        line[name] = {"examples": info["count"], **result}
    line["peak_rss_ratio"] = _ratio(line["large"], line["small"], "peak_rss_mb")
    line["target_peak_rss_ratio"] = RSS_TARGET
    return line


def case_feed(case, args, size, data):
    method, kw, batch, per_step, unit = _method_settings(case, args, size)
    info = data["small"]
    if method == "simclr":
        memory = ["fashion_mnist", size["images"]]  # the same images
    else:
        memory = ["path", info["path"]]
    line = {"case": case, "method": method, "batch_size": batch}
    line["examples"] = info["count"]
    runs = {"memory": (memory, False), "stream": (["path", info["path"]], True)}
    # Alternated `--repeats` times; each side keeps its median run, so a
    # burst of load on this shared machine hits both sides alike.
    results = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, (source, stream) in runs.items():
            spec = _train_spec(args, method, source, stream, kw, batch)
            results[name].append(_throughput(run_child(spec), per_step, unit))
    for name, done in results.items():
        line[name] = _median_run(done)
    line["stream_to_memory_ratio"] = _ratio(
        line["stream"], line["memory"], "steps_per_s"
    )
    line["target_ratio"] = FEED_TARGET
    return line


def case_jpeg(case, args, size, data):
    batch = args.batch_size or 256
    folder, shards = data["folder"]["path"], data["shards"]["path"]
    kw = size["simclr"]
    line = {"case": case, "method": "simclr", "batch_size": batch}
    line["images"] = data["folder"]["count"]
    line["image_shape"] = [96, 96, 3]
    pipeline = {
        "kind": "pipeline",
        "source": ["rgb_folder", folder],
        "batch_size": batch,
        "warmup": args.warmup,
        "steps": args.steps,
    }
    line["pipeline"] = run_child(pipeline)
    if "images_per_s" in line["pipeline"]:
        rate = line["pipeline"]["images_per_s"]
        line["pipeline"]["images_per_s"] = float(f"{rate:.5g}")
    runs = {
        "memory": (["rgb_folder", folder], False),
        "folder": (["rgb_folder", folder], True),
        "shards": (["path", shards], True),
    }
    for name, (source, stream) in runs.items():
        spec = _train_spec(args, "simclr", source, stream, kw, batch)
        line[name] = _throughput(run_child(spec), batch, "images_per_s")
    line["pipeline_to_step_ratio"] = _ratio(
        line["pipeline"], line["memory"], "images_per_s"
    )
    for name in ("folder", "shards"):
        ratio = _ratio(line[name], line["memory"], "steps_per_s")
        fraction = None if ratio is None else round(max(0.0, 1.0 - ratio), 4)
        line[f"{name}_to_memory_ratio"] = ratio
        line[f"{name}_input_bound_fraction"] = fraction
    return line


def run_case(case, args):
    size = sizes(args)
    data = case_data(case, args, size)
    if case.startswith("rss_"):
        line = case_rss(case, args, size, data)
    elif case.startswith("feed_"):
        line = case_feed(case, args, size, data)
    else:
        line = case_jpeg(case, args, size, data)
    line["warmup_steps"] = args.warmup
    line["timed_steps"] = args.steps
    line["data"] = data
    line["machine"] = (
        f"{platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__}"
    )
    return line


# Command line ----------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument(
        "--steps", type=int, default=100, help="timed steps per training run"
    )
    parser.add_argument(
        "--warmup", type=int, default=10, help="untimed steps first (tracing)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="global batch of every case (default: the method's, 256 / 128)",
    )
    parser.add_argument(
        "--data-dir",
        default=DEFAULT_DATA_DIR,
        help="where the data is built once and reused",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 600/6,000 images, 300/3,000 lines, 64 JPEGs, tiny "
        "models, batch 8, 2 + 3 steps",
    )
    parser.add_argument(
        "--build-only",
        action="store_true",
        help="build (or check) the cases' data under --data-dir, print it, stop",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="feed cases: alternate the in-memory and streamed runs this many "
        "times and compare their medians (1 with --quick)",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.warmup, args.repeats = 3, 2, 1
        args.batch_size = args.batch_size or 8
    unknown = sorted(set(args.cases.split(",")) - set(CASES))
    if unknown:
        parser.error(f"--cases: unknown {unknown}; expected some of {list(CASES)}")
    if args.steps < 1 or args.warmup < 1:
        parser.error(
            f"--steps and --warmup must be >= 1; received {args.steps}, {args.warmup}"
        )
    if args.batch_size is not None and args.batch_size < 1:
        parser.error(f"--batch-size must be >= 1; received {args.batch_size}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        result = child_train(spec) if spec["kind"] == "train" else child_pipeline(spec)
        print("RESULT " + json.dumps(result), flush=True)
        return
    os.makedirs(args.data_dir, exist_ok=True)
    for case in args.cases.split(","):
        if args.build_only:
            data = case_data(case, args, sizes(args))
            print(json.dumps({"case": case, "data": data}), flush=True)
            continue
        print(json.dumps(run_case(case, args)), flush=True)


if __name__ == "__main__":
    main()
