"""Does a pretrained starting point help? Transfer to the WordNet noun task.

Prints one JSON line per starting point, each fine-tuned with the demo's
protocol (`keras_ssl.app.evaluate_text`: a linear head for one epoch on the
frozen encoder, then 4 epochs end to end on 8,000 labelled noun glosses,
accuracy on 5,000 test glosses, 26 semantic fields), next to the same
protocol on a random-init encoder of the same architecture and TF-IDF
logistic regression on the same texts:

- `scratch`: MLM from scratch on the task corpus (the noun glosses of the
  training split, no labels) for `--epochs` passes (or `--seconds`);
- `base`: the general base model (`keras-ssl build-base`: MLM on general
  English text, noun glosses held out), fine-tuned as it is;
- `continued`: the base model after as much MLM on the task corpus
  (`pretrain(init_from=base preset)`) at half the peak learning rate.

All three use the base model's architecture (keras-hub BERT, 2 layers of
width 128) and masking rate; `scratch` learns its own WordPiece vocabulary
from the task corpus, the others keep the base model's.

    python benchmarks/transfer_quality.py --epochs 2 [--base PRESET]

`--validation-lr 5e-4,1e-3,3e-3,6e-3` instead fine-tunes the base model and
its random-init twin at each learning rate on a validation split (20% of the
training split, seed 1; the test split is not read) and prints one line per
rate: how the protocol's learning rate was checked.

Without `--base`, the base model is built (or read from the cache: see
`keras_ssl.app.base_models`).
"""

import argparse
import json
import sys
import tempfile
import time

from keras_ssl.app import evaluate_text, pretrain
from keras_ssl.app.base_models import BASE_MODELS, build_base_model
from keras_ssl.datasets import load
from keras_ssl.encoders import load_text_preset
from keras_ssl.models import MaskedLanguageModel


def _line(case, rows, seconds, steps=None, **extra):
    row = rows[0]
    out = {
        "case": case,
        "fine_tune_ssl": row.get("ssl"),
        "fine_tune_random_init": row.get("random_init"),
        "tfidf": row.get("raw_input"),
        "pretrain_seconds": round(seconds, 1),
        "pretrain_steps": steps,
        **extra,
    }
    print(json.dumps(out), flush=True)
    return out


def _evaluate(model, seed, args):
    start = time.time()
    rows = evaluate_text(
        model,
        seed=seed,
        train_size=args.train_size,
        test_size=args.test_size,
        epochs=args.fine_tune_epochs,
    )
    return rows, time.time() - start


def _validation_rates(base, settings, args):
    """Fine-tunes the base model at each rate, scored on a validation split."""
    train, validation = load("wordnet_nouns", split="train").split(0.2, seed=1)
    encoder, preprocessor = load_text_preset(base)
    model = MaskedLanguageModel(encoder, preprocessor, **settings)
    for rate in [float(v) for v in args.validation_lr.split(",")]:
        rows = evaluate_text(
            model,
            dataset=(train, validation),
            train_size=args.train_size,
            test_size=args.test_size,
            epochs=args.fine_tune_epochs,
            learning_rate=rate,
            seed=args.seed,
        )
        row = rows[0]
        print(
            json.dumps(
                {
                    "case": "validation",
                    "learning_rate": rate,
                    "fine_tune_ssl": row["ssl"],
                    "fine_tune_random_init": row["random_init"],
                    "tfidf": row["raw_input"],
                }
            ),
            flush=True,
        )
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=2, help="passes of MLM")
    parser.add_argument("--seconds", type=float, default=None, help="or a budget")
    parser.add_argument("--steps-per-epoch", type=int, default=None, help="quick runs")
    parser.add_argument("--base", default=None, help="base model preset folder")
    parser.add_argument("--base-seconds", type=float, default=None)
    parser.add_argument("--cases", default="scratch,base,continued")
    parser.add_argument("--train-size", type=int, default=8000)
    parser.add_argument("--test-size", type=int, default=5000)
    parser.add_argument("--fine-tune-epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--validation-lr", default=None, help="e.g. 1e-3,3e-3")
    args = parser.parse_args()
    recipe = BASE_MODELS["text"]
    base = args.base
    if base is None:
        built = build_base_model("text", time_budget=args.base_seconds, verbose=2)
        print(json.dumps({"case": "build_base", **built}), flush=True)
        base = built["preset"]
    corpus = load("wordnet_nouns", split="train")
    corpus = corpus.__class__(corpus.x, None, None, name="wordnet_noun_glosses")
    settings = {"mask_rate": recipe["model_kwargs"]["mask_rate"]}
    common = {
        "epochs": 20 if args.seconds else args.epochs,
        "time_budget": args.seconds,
        "steps_per_epoch": args.steps_per_epoch,
        "batch_size": recipe["batch_size"],
        "seed": args.seed,
        "verbose": 0,
    }
    if args.validation_lr:
        return _validation_rates(base, settings, args)
    cases = args.cases.split(",")
    with tempfile.TemporaryDirectory() as out:
        if "scratch" in cases:
            kw = {**recipe["model_kwargs"], **settings}
            result = pretrain(
                "mlm",
                corpus,
                output_dir=out,
                learning_rate=recipe["learning_rate"],
                model_kwargs=kw,
                encoder=recipe["encoder"],
                **common,
            )
            rows, fine_tune_s = _evaluate(result["model"], args.seed, args)
            _line(
                "scratch",
                rows,
                result["seconds"],
                result["steps"],
                mlm_accuracy=result.get("mlm_accuracy"),
                fine_tune_seconds=round(fine_tune_s, 1),
            )
        if "base" in cases:
            encoder, preprocessor = load_text_preset(base)
            model = MaskedLanguageModel(encoder, preprocessor, **settings)
            rows, fine_tune_s = _evaluate(model, args.seed, args)
            _line("base", rows, 0.0, 0, fine_tune_seconds=round(fine_tune_s, 1))
        if "continued" in cases:
            result = pretrain(
                "mlm",
                corpus,
                output_dir=out,
                learning_rate=recipe["learning_rate"] / 2,
                model_kwargs=settings,
                init_from=base,
                **common,
            )
            rows, fine_tune_s = _evaluate(result["model"], args.seed, args)
            _line(
                "continued",
                rows,
                result["seconds"],
                result["steps"],
                mlm_accuracy=result.get("mlm_accuracy"),
                fine_tune_seconds=round(fine_tune_s, 1),
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
