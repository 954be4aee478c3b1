"""Every image method on Fashion-MNIST at one fixed CPU budget.

Prints one JSON line per method: linear-probe and kNN accuracy of the
pretrained encoder, of a random-init encoder of the same architecture under
the same protocol, of raw pixels, and the pretraining wall time and steps.

    python benchmarks/vision_quality.py --seconds 90 [--methods simclr,byol]

Budget per method: `--seconds` of pretraining (conv encoder 32-64-128 with
global average pooling, batch 256, AdamW 2e-3 with warm-up + cosine over
`--epochs`, default augmentation), then the evaluation of
`keras_ssl.workflows.evaluate_images` (probe on 10k train embeddings, kNN
with the 60k training bank; both scored on the 10k test images).
"""

import argparse
import json
import tempfile

from keras_ssl.workflows import evaluate_images, fine_tune_images, pretrain
from keras_ssl.workflows.pretrain import IMAGE_METHODS


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
    args = parser.parse_args()
    for method in args.methods.split(","):
        with tempfile.TemporaryDirectory() as runs:
            result = pretrain(
                method,
                "fashion_mnist",
                output_dir=runs,
                epochs=args.epochs,
                time_budget=None if args.steps else args.seconds,
                steps_per_epoch=-(-args.steps // args.epochs) if args.steps else None,
                seed=args.seed,
                verbose=0,
                model_kwargs=json.loads(args.model_kwargs),
            )
            rows = evaluate_images(result["model"], seed=args.seed)
            if args.fine_tune_fractions:
                fractions = [float(f) for f in args.fine_tune_fractions.split(",")]
                rows += fine_tune_images(
                    result["model"], fractions=fractions, seed=args.seed
                )
        line = {
            "benchmark": "vision_quality",
            "method": method,
            "seconds": round(result["seconds"], 1),
            "steps": result["steps"],
            "final_loss": round(result["loss"], 4),
            "model_kwargs": json.loads(args.model_kwargs),
        }
        for row in rows:
            key = row["protocol"].split(" (")[0].replace(" ", "_").replace("=", "")
            for column in ("ssl", "random_init", "raw_input"):
                line[f"{key}/{column}"] = round(row[column], 4)
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
