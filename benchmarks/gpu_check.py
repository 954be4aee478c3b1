"""GPU check: SimCLR and MLM train steps with XLA and mixed precision.

One short script (under five minutes on one GPU) for a machine with a GPU:
it names the card, builds the default SimCLR and MLM models under
`MirroredStrategy` when there are several GPUs (the default strategy
otherwise), compiles them with XLA (`jit_compile=True`) in `mixed_float16`,
and prints one JSON line per case with images/s or tokens/s after warm-up.
The `simclr_shards` case streams the same images from TFRecord shards
(written once with `keras_ssl.datasets.write_shards`) through the
`StreamedData` pipeline `pretrain` uses, to show whether the input keeps up
with the GPU.

    python benchmarks/gpu_check.py                 # on a GPU machine
    python benchmarks/gpu_check.py --quick         # CPU smoke run (float32, no XLA)

Cases: `simclr_28x28` (Fashion-MNIST, conv encoder 32-64-128, batch 512
per replica), `simclr_96x96` (Fashion-MNIST upscaled to 96x96x3, batch 256
per replica), `mlm_128` (WordNet glosses, length 128, 4 layers of width 256,
batch 64 per replica), `simclr_shards` (as `simclr_28x28`, streamed from
shards), `mlm_bert_base` (a randomly initialised keras-hub `BertBackbone` of
BERT-base size, 12 layers of width 768, through `pretrain`'s encoder
registry (`bert_base`), length 128, batch 32 per replica, 300 steps).
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.datasets import load, stream_shards, write_shards
from keras_ssl.encoders import build_text_encoder, conv_encoder, transformer_encoder
from keras_ssl.models import MaskedLanguageModel, SimCLR
from keras_ssl.recipes import tokenize
from keras_ssl.tokenizers import TextPreprocessor, train_word_piece_vocabulary

CASES = ("simclr_28x28", "simclr_96x96", "mlm_128", "simclr_shards", "mlm_bert_base")


class _Clock(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())


def _timed_fit(model, dataset, warmup, steps):
    """Median step seconds of `steps` steps after `warmup` steps."""
    model.fit(dataset, epochs=1, steps_per_epoch=warmup, verbose=0)
    clock = _Clock()
    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[clock])
    total = time.perf_counter() - start
    return float(np.median(np.diff(clock.times))), total


def _device():
    gpus = tf.config.list_physical_devices("GPU")
    names = []
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        names.append(details.get("device_name", gpu.name))
    return gpus, names


def _images(case, quick):
    x = load("fashion_mnist", split="train").x
    x = x[: 2048 if quick else 60_000]
    if case == "simclr_96x96":
        x = x[: 512 if quick else 20_000]
        x = tf.image.resize(x, (96, 96)).numpy().round().astype("uint8")
        x = np.repeat(x, 3, axis=-1)
    return x


def _simclr(x, batch, xla):
    model = SimCLR(conv_encoder(x.shape[1:]), seed=0)
    model.compile(optimizer=keras.optimizers.AdamW(2e-3), jit_compile=xla)
    return model


def _in_memory(x, batch):
    ds = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=0)
    return ds.batch(batch, drop_remainder=True).repeat().prefetch(tf.data.AUTOTUNE)


def run_simclr(case, args, strategy, xla, replicas):
    per_replica = 512 if case != "simclr_96x96" else 256
    batch = (64 if args.quick else per_replica) * replicas
    x = _images(case, args.quick)
    if case == "simclr_shards":
        folder = os.path.join(args.data_dir, f"fmnist-{len(x)}")
        if not os.path.isdir(folder):
            write_shards(
                load("fashion_mnist", split="train").subset(len(x)),
                folder,
                shard_size=max(len(x) // 8, 1),
                verbose=0,
            )
        data = stream_shards(folder)
        dataset = data.batches(
            batch, shuffle=True, seed=0, repeat=True, drop_remainder=True, labels=False
        )
    else:
        dataset = _in_memory(x, batch)
    with strategy.scope():
        model = _simclr(x, batch, xla)
    step, total = _timed_fit(model, dataset, args.warmup, args.steps)
    return {
        "batch": batch,
        "step_ms": step * 1e3,
        "images_per_s": batch / step,
        "images_per_s_wall": batch * args.steps / total,
    }


def run_mlm(args, strategy, xla, replicas):
    length = 32 if args.quick else 128
    batch = (16 if args.quick else 64) * replicas
    texts = np.asarray(load("wordnet").x, dtype=object).astype(str)
    texts = texts[: 4000 if args.quick else 60_000]
    vocabulary = train_word_piece_vocabulary(list(texts), 8000)
    preprocessor = TextPreprocessor(vocabulary, length)
    ids = tokenize(preprocessor, texts)
    with strategy.scope():
        hidden = 64 if args.quick else 256
        encoder = transformer_encoder(
            len(vocabulary),
            length,
            hidden_dim=hidden,
            num_layers=2 if args.quick else 4,
            num_heads=4,
            intermediate_dim=4 * hidden,
            dropout=0.1,
        )
        model = MaskedLanguageModel(encoder, preprocessor, seed=0)
        model.compile(optimizer=keras.optimizers.AdamW(1e-3), jit_compile=xla)
    step, total = _timed_fit(model, _in_memory(ids, batch), args.warmup, args.steps)
    return {
        "batch": batch,
        "sequence_length": length,
        "step_ms": step * 1e3,
        "tokens_per_s": batch * length / step,
    }


def run_bert_base(args, strategy, xla, replicas):
    """MLM on a random keras-hub BERT-base backbone (tiny with `--quick`)."""
    length = 32 if args.quick else 128
    batch = (8 if args.quick else 32) * replicas
    texts = np.asarray(load("wordnet").x, dtype=object).astype(str)
    texts = texts[: 4000 if args.quick else 60_000]
    vocabulary = train_word_piece_vocabulary(list(texts), 8000)
    with strategy.scope():
        name = "bert_tiny" if args.quick else "bert_base"
        encoder, preprocessor = build_text_encoder(name, vocabulary, length)
        model = MaskedLanguageModel(encoder, preprocessor, seed=0)
        model.compile(optimizer=keras.optimizers.AdamW(1e-4), jit_compile=xla)
    ids = tokenize(preprocessor, texts)
    steps = args.steps if args.quick else max(args.steps, 300)
    step, total = _timed_fit(model, _in_memory(ids, batch), args.warmup, steps)
    return {
        "backbone": name,
        "parameters": int(encoder.count_params()),
        "batch": batch,
        "sequence_length": length,
        "steps": steps,
        "step_ms": step * 1e3,
        "tokens_per_s": batch * length / step,
    }


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--quick", action="store_true", help="CPU smoke run")
    p.add_argument(
        "--data-dir", default=os.path.join(tempfile.gettempdir(), "gpu_check")
    )
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.warmup = min(args.steps, 5), min(args.warmup, 2)
    return args


def main(argv=None):
    args = parse_args(argv)
    gpus, names = _device()
    on_gpu = bool(gpus) and not args.quick
    if on_gpu:
        keras.mixed_precision.set_global_policy("mixed_float16")
    strategy = (
        tf.distribute.MirroredStrategy()
        if len(gpus) > 1 and on_gpu
        else tf.distribute.get_strategy()
    )
    replicas = strategy.num_replicas_in_sync
    common = {
        "device": names[0] if names else platform.processor() or "cpu",
        "gpus": len(gpus),
        "replicas": replicas,
        "strategy": type(strategy).__name__,
        "precision": keras.mixed_precision.global_policy().name,
        "xla": on_gpu,
        "tensorflow": tf.__version__,
    }
    for case in args.cases.split(","):
        start = time.perf_counter()
        if case == "mlm_128":
            result = run_mlm(args, strategy, on_gpu, replicas)
        elif case == "mlm_bert_base":
            result = run_bert_base(args, strategy, on_gpu, replicas)
        elif case in CASES:
            result = run_simclr(case, args, strategy, on_gpu, replicas)
        else:
            sys.exit(f"unknown case {case!r}; expected one of {CASES}")
        result["seconds"] = time.perf_counter() - start
        print(json.dumps({"case": case, **common, **result}), flush=True)


if __name__ == "__main__":
    main()
