"""Pretrain a masked language model on WordNet glosses, fine-tune, export.

python examples/pretrain_mlm.py --epochs 1 --steps-per-epoch 20
"""

import argparse

from keras_ssl.app import evaluate_text, export, pretrain
from keras_ssl.evaluation import format_results_table


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps-per-epoch", type=int, default=None)
    parser.add_argument("--fine-tune-examples", type=int, default=8000)
    parser.add_argument("--output-dir", default="runs")
    parser.add_argument("--export-dir", default="saved_models")
    args = parser.parse_args()

    result = pretrain(
        "mlm",
        "wordnet",
        output_dir=args.output_dir,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
    )
    rows = evaluate_text(
        result["model"], train_size=args.fine_tune_examples, log_dir=result["log_dir"]
    )
    print(format_results_table(rows))
    print("exported to", export(result["model"], "mlm_example", args.export_dir))


if __name__ == "__main__":
    main()
