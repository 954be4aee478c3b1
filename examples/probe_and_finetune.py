"""Pretrain any method, then probe and fine-tune it next to its baselines.

The transfer protocols of `keras_ssl` on one pretrained encoder, each next
to a random-init encoder of the same architecture and a raw-input baseline:

- images: linear probe and kNN on the frozen encoder
  (`workflows.evaluate_images`), fine-tuning on label fractions
  (`workflows.fine_tune_images`);
- text: a linear head on the frozen encoder, then end-to-end fine-tuning
  (`workflows.evaluate_text`);

then one fine-tuned classifier saved with a freeze strategy
(`workflows.finetune`: `head`, `all`, `top-K` or `gradual`), ready for
`keras-ssl export`. With `--plots DIR` it also draws the results as bars, the
pretraining curves and a t-SNE map of the test embeddings
(`keras_ssl.visualization`).

    python examples/probe_and_finetune.py --method simclr --epochs 2 --steps 100
    python examples/probe_and_finetune.py --method mlm --steps 200 --freeze top-1
    python examples/probe_and_finetune.py --model runs/byol-<stamp>/model.keras
    python examples/probe_and_finetune.py --steps 2 --train-size 256 \\
        --test-size 128 --fine-tune-epochs 1 --model-kwargs '{"widths": [8, 16]}'
"""

import argparse
import json
import os

from keras_ssl.app import (
    METHODS,
    evaluate_images,
    evaluate_text,
    fine_tune_images,
    finetune,
    load_ssl_model,
    pretrain,
)
from keras_ssl.app.finetune import DEFAULT_SETTINGS
from keras_ssl.app.pretrain import TEXT_METHODS
from keras_ssl.datasets import load
from keras_ssl.evaluation import embed, format_results_table
from keras_ssl.tokenizers import TextPreprocessor


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--method", default="simclr", choices=METHODS)
    parser.add_argument(
        "--model", default=None, help="a pretrained model.keras (skips pretraining)"
    )
    parser.add_argument("--epochs", type=int, default=1, help="pretraining epochs")
    parser.add_argument("--steps", type=int, default=200, help="steps per epoch")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument(
        "--train-size",
        type=int,
        default=10000,
        help="labelled training examples (and, for images, pretraining images)",
    )
    parser.add_argument("--test-size", type=int, default=5000)
    parser.add_argument("--fine-tune-epochs", type=int, default=3)
    parser.add_argument("--freeze", default="all", help="head, all, top-K, gradual")
    parser.add_argument("--model-kwargs", default="{}", help="JSON, e.g. widths")
    parser.add_argument("--output-dir", default="runs")
    parser.add_argument("--plots", default=None, help="folder for PNG figures")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    history = None
    if args.model:
        model = load_ssl_model(args.model)
    else:
        if args.method in TEXT_METHODS:  # unlabelled glosses of every kind
            corpus = load("wordnet")
            corpus = corpus.subset(min(4 * args.train_size, len(corpus)), args.seed)
        else:
            corpus = load("fashion_mnist", split="train")
            corpus = corpus.subset(args.train_size, seed=args.seed)
        result = pretrain(
            args.method,
            corpus,
            output_dir=args.output_dir,
            epochs=args.epochs,
            steps_per_epoch=args.steps,
            batch_size=args.batch_size,
            seed=args.seed,
            verbose=0,
            model_kwargs=json.loads(args.model_kwargs),
        )
        model, history = result["model"], result["history"]
        print(
            f"pretrained {args.method}: {result['steps']} steps -> {result['run_dir']}"
        )

    text = isinstance(getattr(model, "preprocessor", None), TextPreprocessor)
    name = "wordnet_nouns" if text else "fashion_mnist"
    train = load(name, split="train").subset(args.train_size, seed=args.seed)
    test = load(name, split="test").subset(args.test_size, seed=args.seed)
    batch = min(64, args.train_size)

    # The frozen-encoder protocols and fine-tuning, each with both baselines.
    if text:
        rows = evaluate_text(
            model,
            (train, test),
            train_size=args.train_size,
            test_size=args.test_size,
            epochs=args.fine_tune_epochs,
            batch_size=batch,
            seed=args.seed,
        )
    else:
        rows = evaluate_images(
            model,
            (train, test),
            probe_train_size=args.train_size,
            knn_k=(20,),
            seed=args.seed,
        )
        rows += fine_tune_images(
            model,
            (train, test),
            fractions=(0.1, 1.0),
            epochs=args.fine_tune_epochs,
            batch_size=batch,
            seed=args.seed,
        )
    for row in rows:
        row["task"] = name  # not the repr of the (train, test) pair
    print(format_results_table(rows))

    # One classifier to keep: fine-tuned with a freeze strategy and early
    # stopping on a validation split, saved as a TaskClassifier.
    # The settings travel as one object (FineTuneSettings); `finetune`'s
    # own defaults are DEFAULT_SETTINGS.
    settings = DEFAULT_SETTINGS.replace(
        epochs=args.fine_tune_epochs,
        batch_size=batch,
        validation_split=0.1,
        early_stopping_patience=2,
        seed=args.seed,
    )
    tuned = finetune(
        model,
        (train, test),
        settings,
        freeze=args.freeze,
        output_dir=args.output_dir,
        verbose=0,
    )
    print(
        f"fine-tuned (freeze={args.freeze}): test accuracy {tuned['accuracy']:.1%} "
        f"-> {tuned['model_path']}"
    )

    figures = []
    if args.plots:
        from keras_ssl.visualization import (
            plot_baseline_bars,
            plot_embedding_map,
            plot_history,
        )

        figures.append(
            plot_baseline_bars(rows, os.path.join(args.plots, "baselines.png"))
        )
        if history:
            figures.append(
                plot_history(history, os.path.join(args.plots, "pretraining.png"))
            )
        # `model.predict` returns the encoder's representation of raw inputs
        # (uint8 images or strings).
        figures.append(
            plot_embedding_map(
                embed(model, test.x),
                test.y,
                os.path.join(args.plots, "embedding_map.png"),
                label_names=test.label_names,
                seed=args.seed,
            )
        )
        print("figures:", ", ".join(figures))
    return {
        "rows": rows,
        "finetune_accuracy": tuned["accuracy"],
        "classifier_path": tuned["model_path"],
        "figures": figures,
    }


if __name__ == "__main__":
    main()
