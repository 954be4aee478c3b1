"""Search fine-tuning hyperparameters of a pretrained encoder with keras-tuner.

Pretrains an encoder (or loads `--model`), then `keras_ssl.app.tune`
runs a keras-tuner search (`random`, `hyperband` or `bayesian`) over the
fine-tuning hyperparameters of `keras_ssl.tuning.FineTuneHyperModel`:
learning rate, weight decay, dropout, how many top encoder layers are
trained (0 = head only), head width and batch size, each trial scored by
`val_accuracy` on a stratified validation part of the training split. The
best setting is retrained on the whole training split, scored on the test
split and saved as `classifier.keras` (optionally exported for TF Serving).
Run the same command again and the search continues where it stopped.

    python examples/tune_finetune.py --method simclr --steps 300 --max-trials 8
    python examples/tune_finetune.py --model runs/simclr-<stamp>/model.keras \\
        --tuner bayesian --search-space '{"trainable_layers": [0, 2, "all"]}'
    python examples/tune_finetune.py --steps 2 --train-size 256 --test-size 64 \\
        --max-trials 2 --trial-epochs 1 --model-kwargs '{"widths": [4, 8]}'
"""

import argparse
import json
import os

from keras_ssl.app import METHODS, load_ssl_model, pretrain, tune
from keras_ssl.app.pretrain import TEXT_METHODS
from keras_ssl.datasets import load
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
    parser.add_argument("--train-size", type=int, default=5000)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument(
        "--tuner", default="random", choices=("random", "hyperband", "bayesian")
    )
    parser.add_argument("--max-trials", type=int, default=6)
    parser.add_argument("--trial-epochs", type=int, default=2)
    parser.add_argument(
        "--search-space",
        default="{}",
        help="JSON narrowing the space, e.g. '{\"batch_size\": [64, 128]}'",
    )
    parser.add_argument("--model-kwargs", default="{}", help="JSON, e.g. widths")
    parser.add_argument("--output-dir", default="runs")
    parser.add_argument("--export-dir", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.model:
        model = load_ssl_model(args.model)
    else:
        if args.method in TEXT_METHODS:
            corpus = load("wordnet")
            corpus = corpus.subset(min(4 * args.train_size, len(corpus)), args.seed)
        else:
            corpus = load("fashion_mnist", split="train")
            corpus = corpus.subset(args.train_size, seed=args.seed)
        pretrained = pretrain(
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
        model = pretrained["model"]
        print(f"pretrained {args.method}: {pretrained['steps']} steps")

    text = isinstance(getattr(model, "preprocessor", None), TextPreprocessor)
    name = "wordnet_nouns" if text else "fashion_mnist"
    train = load(name, split="train").subset(args.train_size, seed=args.seed)
    test = load(name, split="test").subset(args.test_size, seed=args.seed)
    result = tune(
        model,
        (train, test),
        tuner=args.tuner,
        max_trials=args.max_trials,
        epochs=args.trial_epochs,
        output_dir=args.output_dir,
        search_space=json.loads(args.search_space),
        export_dir=args.export_dir,
        seed=args.seed,
    )
    # Every trial, best first (also in results.md of the run folder).
    print(open(os.path.join(result["run_dir"], "results.md")).read())
    print("best hyperparameters:", json.dumps(result["best_hyperparameters"]))
    print(f"classifier: {result['classifier_path']}")
    return result


if __name__ == "__main__":
    main()
