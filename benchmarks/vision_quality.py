"""Every image method on Fashion-MNIST at one fixed CPU budget.

Prints one JSON line per method: linear-probe and kNN accuracy of the
pretrained encoder, of a random-init encoder of the same architecture under
the same protocol, of raw pixels, and the pretraining wall time and steps.

    python benchmarks/vision_quality.py --seconds 90 [--methods simclr,byol]
    python benchmarks/vision_quality.py --steps 100 --plots docs/images
    python benchmarks/vision_quality.py --methods simclr --mixed-precision auto

Budget per method: `--seconds` of pretraining (conv encoder 32-64-128 with
global average pooling, batch 256, AdamW 2e-3 with warm-up + cosine over
`--epochs`, default augmentation), then the evaluation of
`keras_ssl.app.evaluate_images` (probe on 10k train embeddings, kNN
with the 60k training bank; both scored on the 10k test images).

`--plots DIR` also writes PNGs: a bar chart of every method's results next
to the baselines (`baselines_vision.png`), each method's pretraining
curves, logged every 5 steps (`loss_<method>.png`), and a t-SNE map of its
embeddings of 2,000 test images (`embedding_map_<method>.png`, ~20-30 s
each on two cores). `--train-size` / `--test-size` pretrain and evaluate on
random subsets (quick checks).
"""

import argparse
import json
import os
import sys
import tempfile

from keras_ssl.app import evaluate_images, fine_tune_images, pretrain
from keras_ssl.app.demo import StepLog
from keras_ssl.app.pretrain import IMAGE_METHODS
from keras_ssl.datasets import load


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="train a fixed number of steps instead of --seconds (fair "
        "comparisons on a shared machine)",
    )
    parser.add_argument("--methods", default=",".join(IMAGE_METHODS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--fine-tune-fractions",
        default="",
        help="also fine-tune on these label fractions, e.g. 0.01,0.1,1",
    )
    parser.add_argument(
        "--model-kwargs",
        default="{}",
        help="JSON of method settings, e.g. '{\"base_momentum\": 0.9}'",
    )
    parser.add_argument(
        "--mixed-precision",
        default="off",
        help="off | auto | mixed_float16 | mixed_bfloat16 (pretraining only)",
    )
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="deterministic TensorFlow ops: the same seed gives the same numbers "
        "(use with --steps to compare two versions of the code)",
    )
    parser.add_argument("--plots", default=None, help="folder for PNG figures")
    parser.add_argument(
        "--train-size",
        type=int,
        default=None,
        help="pretrain and evaluate on this many training images (default all)",
    )
    parser.add_argument(
        "--test-size", type=int, default=None, help="test images (default all)"
    )
    args = parser.parse_args()
    train = load("fashion_mnist", split="train")
    test = load("fashion_mnist", split="test")
    if args.train_size:
        train = train.subset(args.train_size, seed=args.seed)
    if args.test_size:
        test = test.subset(args.test_size, seed=args.seed)
    all_rows = []
    for method in args.methods.split(","):
        log = StepLog()
        with tempfile.TemporaryDirectory() as runs:
            result = pretrain(
                method,
                train,
                output_dir=runs,
                epochs=args.epochs,
                time_budget=None if args.steps else args.seconds,
                steps_per_epoch=-(-args.steps // args.epochs) if args.steps else None,
                seed=args.seed,
                verbose=0,
                model_kwargs=json.loads(args.model_kwargs),
                callbacks=[log],
                deterministic=args.deterministic,
                mixed_precision=args.mixed_precision,
            )
            rows = evaluate_images(result["model"], (train, test), seed=args.seed)
            if args.plots:
                from keras_ssl.evaluation import embed
                from keras_ssl.visualization import plot_embedding_map

                shown = test.subset(min(2000, len(test)), seed=args.seed)
                path = plot_embedding_map(
                    embed(result["model"].encoder, shown.x.astype("float32") / 255),
                    shown.y,
                    os.path.join(args.plots, f"embedding_map_{method}.png"),
                    label_names=shown.label_names,
                    seed=args.seed,
                    title=f"t-SNE of {method} embeddings of {len(shown)} "
                    "Fashion-MNIST test images",
                )
                print(f"wrote {path}", file=sys.stderr)
            if args.fine_tune_fractions:
                fractions = [float(f) for f in args.fine_tune_fractions.split(",")]
                rows += fine_tune_images(
                    result["model"], (train, test), fractions=fractions, seed=args.seed
                )
        line = {
            "benchmark": "vision_quality",
            "method": method,
            "seconds": round(result["seconds"], 1),
            "steps": result["steps"],
            "final_loss": round(result["loss"], 4),
            "model_kwargs": json.loads(args.model_kwargs),
            "dtype_policy": result["model"].encoder.dtype_policy.name,
        }
        for row in rows:
            key = row["protocol"].split(" (")[0].replace(" ", "_").replace("=", "")
            for column in ("ssl", "random_init", "raw_input"):
                line[f"{key}/{column}"] = round(row[column], 4)
        print(json.dumps(line), flush=True)
        all_rows += [{**row, "task": method} for row in rows]
        if args.plots:
            from keras_ssl.visualization import plot_history

            path = plot_history(
                **(log.curve() or {"history": result["history"]}),
                path=os.path.join(args.plots, f"loss_{method}.png"),
                title=f"{method} on Fashion-MNIST: pretraining curves",
            )
            print(f"wrote {path}", file=sys.stderr)
    if args.plots:
        from keras_ssl.visualization import plot_baseline_bars

        path = plot_baseline_bars(
            all_rows,
            os.path.join(args.plots, "baselines_vision.png"),
            title="Image methods: SSL vs random-init encoder vs raw pixels",
        )
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
