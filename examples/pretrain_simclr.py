"""Pretrain SimCLR on Fashion-MNIST, probe it, and export the encoder.

python examples/pretrain_simclr.py --epochs 1 --steps-per-epoch 20
"""

import argparse

from keras_ssl.app import evaluate_images, export, pretrain
from keras_ssl.evaluation import format_results_table


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--steps-per-epoch", type=int, default=None)
    parser.add_argument("--output-dir", default="runs")
    parser.add_argument("--export-dir", default="saved_models")
    args = parser.parse_args()

    result = pretrain(
        "simclr",
        "fashion_mnist",
        output_dir=args.output_dir,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
    )
    rows = evaluate_images(result["model"], log_dir=result["log_dir"])
    print(format_results_table(rows))
    print("exported to", export(result["model"], "simclr_example", args.export_dir))


if __name__ == "__main__":
    main()
