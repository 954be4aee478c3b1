"""`keras-ssl`: the command line (argument parsing only; work is in workflows)."""

import argparse
import json
import logging
import sys


def _add_common(p):
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--debug", action="store_true", help="show full tracebacks on errors"
    )


def _add_finetune_parser(sub):
    p = sub.add_parser(
        "finetune", help="fine-tune a pretrained encoder with a classification head"
    )
    p.add_argument("--model", required=True, help="path to model.keras")
    p.add_argument(
        "--dataset",
        default=None,
        help="labelled data: fashion_mnist, wordnet_nouns, an image folder, "
        "a .csv (default: fashion_mnist / wordnet_nouns)",
    )
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument(
        "--freeze",
        default="all",
        help="what trains: all (whole encoder) | head (head only) | top-K "
        "(top K encoder blocks) | gradual (one more block per epoch)",
    )
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--head-l2", type=float, default=0.0, help="L2 on the head")
    p.add_argument(
        "--validation-split",
        type=float,
        default=0.1,
        help="fraction held out for validation (0: none)",
    )
    p.add_argument(
        "--patience",
        type=int,
        default=None,
        help="early stopping patience in epochs (restores the best weights)",
    )
    p.add_argument(
        "--class-weight",
        choices=["balanced"],
        default=None,
        help="weigh classes inversely to their frequency",
    )
    p.add_argument("--output-dir", default="runs")
    _add_common(p)


def _run_finetune(args):
    from keras_ssl import workflows

    result = workflows.finetune(
        args.model,
        args.dataset,
        output_dir=args.output_dir,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        dropout=args.dropout,
        head_l2=args.head_l2,
        freeze=args.freeze,
        validation_split=args.validation_split,
        early_stopping_patience=args.patience,
        class_weight=args.class_weight,
        seed=args.seed,
    )
    keys = ("accuracy", "val_accuracy", "val_loss", "epochs_run", "best_epoch")
    print(f"\nSummary: {json.dumps({k: result[k] for k in keys}, sort_keys=True)}")
    print(f"Classifier: {result['model_path']}")
    print(f"TensorBoard: tensorboard --logdir {result['log_dir']}")
    print(f"Export: keras-ssl export --model {result['model_path']} --name <name>")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-ssl",
        description="Self-supervised pretraining, evaluation and export "
        "for Keras 3 / TensorFlow.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("pretrain", help="pretrain an SSL model")
    p.add_argument(
        "--method",
        default="simclr",
        help="image: simclr | moco | triplet | byol | simsiam | barlow_twins | "
        "vicreg | autoencoder | rotation | mae | deepcluster; text: mlm | "
        "mlm_nsp | causal_lm | rtd | simcse",
    )
    p.add_argument(
        "--dataset",
        default=None,
        help="fashion_mnist, wordnet, an image folder, a .txt/.csv file "
        "(default: wordnet for text methods, fashion_mnist otherwise)",
    )
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--steps-per-epoch", type=int, default=None)
    p.add_argument(
        "--time-budget", type=float, default=None, help="stop after N seconds"
    )
    p.add_argument("--strategy", default="auto", help="auto | one_device | mirrored")
    p.add_argument(
        "--model-kwargs",
        default="{}",
        help="JSON of encoder/method settings, e.g. '{\"collapse_metrics\": true}' "
        'or \'{"hidden_dim": 128, "mask_rate": 0.4}\'',
    )
    p.add_argument("--output-dir", default="runs")
    _add_common(p)

    for name, help_ in (
        ("probe", "evaluate a pretrained model against its baselines"),
        ("evaluate", "alias of probe"),
    ):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--model", required=True, help="path to model.keras")
        p.add_argument(
            "--dataset",
            default=None,
            help="labelled data (default: fashion_mnist / wordnet_nouns)",
        )
        p.add_argument("--log-dir", default=None, help="TensorBoard folder")
        _add_common(p)

    _add_finetune_parser(sub)

    p = sub.add_parser(
        "tune", help="search fine-tuning hyperparameters with keras-tuner"
    )
    p.add_argument("--model", required=True, help="path to model.keras")
    p.add_argument(
        "--dataset",
        default=None,
        help="labelled data (default: fashion_mnist / wordnet_nouns)",
    )
    p.add_argument("--tuner", default="random", help="random | hyperband | bayesian")
    p.add_argument("--max-trials", type=int, default=10)
    p.add_argument(
        "--epochs", type=int, default=3, help="epochs per trial (Hyperband: the most)"
    )
    p.add_argument(
        "--train-size", type=int, default=None, help="labelled examples to use"
    )
    p.add_argument("--output-dir", default="runs")
    p.add_argument(
        "--export-dir",
        default=None,
        help="also export the tuned classifier under this TF Serving base folder",
    )
    _add_common(p)

    p = sub.add_parser(
        "tune-pretraining",
        help="label-free search over pretraining hyperparameters (keras-tuner)",
    )
    p.add_argument(
        "--method",
        default="simclr",
        help="simclr | moco | byol | simsiam | barlow_twins | vicreg | triplet",
    )
    p.add_argument("--dataset", default="fashion_mnist")
    p.add_argument(
        "--objective", default="knn_accuracy", help="knn_accuracy | effective_rank"
    )
    p.add_argument("--tuner", default="random", help="random | bayesian")
    p.add_argument("--max-trials", type=int, default=6)
    p.add_argument("--steps", type=int, default=200, help="pretraining steps per trial")
    p.add_argument(
        "--labelled-size",
        type=int,
        default=2000,
        help="labelled images for the kNN objective",
    )
    p.add_argument("--output-dir", default="runs")
    _add_common(p)

    p = sub.add_parser(
        "export", help="export an encoder or a fine-tuned classifier as a SavedModel"
    )
    p.add_argument(
        "--model", required=True, help="path to model.keras or classifier.keras"
    )
    p.add_argument("--name", required=True, help="export name")
    p.add_argument("--base-dir", default="saved_models")
    p.add_argument("--version", default="auto", help="integer or 'auto'")
    _add_common(p)

    p = sub.add_parser("demo", help="the end-to-end demo on the embedded data")
    p.add_argument("--output-dir", default="runs")
    p.add_argument("--export-dir", default="saved_models")
    p.add_argument("--image-seconds", type=float, default=100)
    p.add_argument("--text-seconds", type=float, default=240)
    _add_common(p)
    return parser


def _json_object(flag, text):
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(
            f"Argument `{flag}` must be a JSON object. Received: {text!r} ({e.msg})"
        ) from None
    if not isinstance(value, dict):
        raise ValueError(f"Argument `{flag}` must be a JSON object. Received: {text!r}")
    return value


def _run(args):
    from keras_ssl import workflows
    from keras_ssl.evaluation import format_results_table
    from keras_ssl.tokenizers import TextPreprocessor

    if args.command == "pretrain":
        result = workflows.pretrain(
            method=args.method,
            dataset=args.dataset,
            output_dir=args.output_dir,
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            steps_per_epoch=args.steps_per_epoch,
            time_budget=args.time_budget,
            strategy=args.strategy,
            seed=args.seed,
            model_kwargs=_json_object("--model-kwargs", args.model_kwargs),
        )
        metrics = {
            k: v
            for k, v in result.items()
            if isinstance(v, float | int) and not isinstance(v, bool)
        }
        print(f"\nSummary: {json.dumps(metrics, sort_keys=True)}")
        print(f"Model: {result['model_path']}")
        print(f"TensorBoard: tensorboard --logdir {result['log_dir']}")
        return 0
    if args.command in ("probe", "evaluate"):
        model = workflows.load_ssl_model(args.model)
        if isinstance(getattr(model, "preprocessor", None), TextPreprocessor):
            rows = workflows.evaluate_text(
                model,
                args.dataset or "wordnet_nouns",
                log_dir=args.log_dir,
                seed=args.seed,
            )
        else:
            rows = workflows.evaluate_images(
                model,
                args.dataset or "fashion_mnist",
                log_dir=args.log_dir,
                seed=args.seed,
            )
        print(format_results_table(rows))
        return 0
    if args.command == "finetune":
        return _run_finetune(args)
    if args.command == "tune":
        from keras_ssl.workflows.tune import tune

        result = tune(
            args.model,
            args.dataset,
            tuner=args.tuner,
            max_trials=args.max_trials,
            epochs=args.epochs,
            output_dir=args.output_dir,
            seed=args.seed,
            export_dir=args.export_dir,
            train_size=args.train_size,
        )
        best = json.dumps(result["best_hyperparameters"], sort_keys=True)
        print(f"\nBest hyperparameters: {best}")
        print(
            f"val_accuracy={result['val_accuracy']:.4f} "
            f"test_accuracy={result['test_accuracy']:.4f}"
        )
        print(f"Results: {result['run_dir']}/results.md")
        print(f"Classifier: {result['classifier_path']}")
        if result.get("export_path"):
            print(f"Exported: {result['export_path']}")
        return 0
    if args.command == "tune-pretraining":
        from keras_ssl.workflows.tune_pretraining import tune_pretraining

        result = tune_pretraining(
            args.method,
            args.dataset,
            objective=args.objective,
            tuner=args.tuner,
            max_trials=args.max_trials,
            steps=args.steps,
            output_dir=args.output_dir,
            labelled_size=args.labelled_size,
            seed=args.seed,
        )
        best = json.dumps(result["best_hyperparameters"], sort_keys=True)
        print(f"\nBest hyperparameters: {best}")
        print(f"{result['objective']}={result['best_score']:.4f}")
        print(f"Results: {result['run_dir']}/results.md")
        return 0
    if args.command == "export":
        version = args.version
        if version != "auto":
            try:
                version = int(version)
            except ValueError:
                raise ValueError(
                    "Argument `--version` must be a positive integer or 'auto'. "
                    f"Received: --version={version!r}"
                ) from None
        path = workflows.export(args.model, args.name, args.base_dir, version)
        print(f"Exported: {path}")
        print(f"Inspect: saved_model_cli show --dir {path} --all")
        return 0
    if args.command == "demo":
        from keras_ssl.workflows.demo import run_demo

        run_demo(
            output_dir=args.output_dir,
            export_dir=args.export_dir,
            image_seconds=args.image_seconds,
            text_seconds=args.text_seconds,
            seed=args.seed,
        )
        return 0
    raise AssertionError(args.command)


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        return _run(args)
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as e:
        if args.debug:
            raise
        print(f"keras-ssl {args.command}: error: {e}", file=sys.stderr)
        print("(run again with --debug for the full traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
