"""Does the general image base model help? Transfer to Fashion-MNIST.

Prints one JSON line per starting point: the linear probe (standardized
logistic regression on 10k training embeddings) and kNN@20 (the 60k
training bank) of `keras_ssl.app.evaluate_images`, scored on the 10k test
images, next to the same protocols on a random-init encoder of the same
architecture and on raw pixels:

- `scratch`: SimCLR from scratch on the Fashion-MNIST training images (no
  labels), the base model's architecture freshly initialised, for
  `--steps` optimizer steps (or `--seconds`);
- `base`: the general image base model (`keras-ssl build-base --name
  image`: SimCLR on crops of Debian's photographs and clip art) as it is;
- `continued`: the base model after as many SimCLR steps on the
  Fashion-MNIST training images (`pretrain(init_from=base preset)`), at
  `--continued-lr-scale` times the peak learning rate.

Every case uses the base recipe's batch size and learning rate (2e-3) and
the default SimCLR views; `scratch` and `continued` train the same number
of steps, so a shared machine changes the wall times but not the
accuracies.

    python benchmarks/image_transfer_quality.py --steps 1000 [--base PRESET]
    python benchmarks/image_transfer_quality.py --quick --base PRESET  # smoke

Without `--base`, the base model is built (or read from the cache: see
`keras_ssl.app.base_models`); `--quick` (subsets of 512 / 256 images, 2
steps of 32) then uses an untrained base instead, to check the plumbing.
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time

from keras_ssl.app import evaluate_images, pretrain
from keras_ssl.app.base_models import (
    BASE_MODELS,
    base_model_path,
    build_base_model,
    image_base_encoder,
)
from keras_ssl.app.evaluate import random_init_twin
from keras_ssl.datasets import load
from keras_ssl.encoders import load_image_encoder, save_to_preset
from keras_ssl.models import SimCLR

#: The kNN protocol's number of neighbours.
KNN_K = 20


def _line(case, rows, result=None, **extra):
    out = {"benchmark": "image_transfer_quality", "case": case}
    for row in rows:
        key = row["protocol"].split(" (")[0].replace(" ", "_").replace("=", "")
        if key.startswith("kNN_k"):
            # Named by the k asked for; a small bank caps the k used.
            out["knn_k_used"] = int(key[len("kNN_k") :])
            key = f"kNN_k{KNN_K}"
        for column in ("ssl", "random_init", "raw_input"):
            out[f"{key}/{column}"] = round(row[column], 4)
    out["pretrain_steps"] = result["steps"] if result else 0
    out["pretrain_seconds"] = round(result["seconds"], 1) if result else 0.0
    if result and result.get("contrastive_accuracy") is not None:
        out["contrastive_accuracy"] = round(result["contrastive_accuracy"], 4)
    out.update(extra)
    print(json.dumps(out), flush=True)
    return out


def _budget(args, num_train):
    """`pretrain` keyword arguments for `--steps` or `--seconds`."""
    if args.steps:
        per_epoch = max(1, num_train // args.batch_size)
        epochs = max(1, math.ceil(args.steps / per_epoch))
        return {"epochs": epochs, "steps_per_epoch": math.ceil(args.steps / epochs)}
    return {"epochs": 100, "time_budget": args.seconds}


def _base_preset(args, out):
    if args.base:
        return args.base
    if args.quick and not os.path.isdir(base_model_path("image")):
        path = os.path.join(out, "untrained_base")
        save_to_preset(image_base_encoder((28, 28, 1), seed=args.seed), path)
        print(f"--quick: an untrained base model in {path}", file=sys.stderr)
        return path
    built = build_base_model("image", verbose=2)
    print(json.dumps({"case": "build_base", **built}), flush=True)
    return built["preset"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=1000, help="SimCLR steps")
    parser.add_argument("--seconds", type=float, default=None, help="or a budget")
    parser.add_argument("--base", default=None, help="image base model preset")
    parser.add_argument("--cases", default="scratch,base,continued")
    parser.add_argument("--continued-lr-scale", type=float, default=0.5)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--test-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a smoke test")
    args = parser.parse_args(argv)
    recipe = BASE_MODELS["image"]
    args.batch_size = recipe["batch_size"]
    if args.seconds:
        args.steps = None
    if args.quick:
        args.train_size = args.train_size or 512
        args.test_size = args.test_size or 256
        args.steps, args.seconds, args.batch_size = 2, None, 32
    cases = args.cases.split(",")
    unknown = sorted(set(cases) - {"scratch", "base", "continued"})
    if unknown:
        parser.error(f"unknown cases {unknown}; expected scratch, base, continued")
    train = load("fashion_mnist", split="train")
    test = load("fashion_mnist", split="test")
    if args.train_size:
        train = train.subset(args.train_size, seed=args.seed)
    if args.test_size:
        test = test.subset(args.test_size, seed=args.seed)
    unlabelled = train.__class__(train.x, None, None, name="fashion_mnist_images")
    common = {
        "batch_size": args.batch_size,
        "seed": args.seed,
        "verbose": 0,
        **_budget(args, len(train)),
    }
    knn_k = (KNN_K,)
    with tempfile.TemporaryDirectory() as out:
        base = _base_preset(args, out)
        encoder = load_image_encoder(base, (28, 28, 1))
        if "scratch" in cases:
            fresh = random_init_twin(encoder, args.seed)
            result = pretrain(
                "simclr",
                unlabelled,
                output_dir=out,
                learning_rate=recipe["learning_rate"],
                encoder=fresh,
                **common,
            )
            start = time.time()
            rows = evaluate_images(
                result["model"], (train, test), seed=args.seed, knn_k=knn_k
            )
            _line("scratch", rows, result, eval_seconds=round(time.time() - start))
        if "base" in cases:
            start = time.time()
            rows = evaluate_images(
                SimCLR(encoder), (train, test), seed=args.seed, knn_k=knn_k
            )
            _line("base", rows, eval_seconds=round(time.time() - start))
        if "continued" in cases:
            result = pretrain(
                "simclr",
                unlabelled,
                output_dir=out,
                learning_rate=recipe["learning_rate"] * args.continued_lr_scale,
                init_from=base,
                **common,
            )
            start = time.time()
            rows = evaluate_images(
                result["model"], (train, test), seed=args.seed, knn_k=knn_k
            )
            _line("continued", rows, result, eval_seconds=round(time.time() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
