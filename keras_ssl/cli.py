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

    p = sub.add_parser("export", help="export the encoder as a SavedModel")
    p.add_argument("--model", required=True, help="path to model.keras")
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


def _run(args):
    from keras_ssl import workflows
    from keras_ssl.evaluation import format_results_table
    from keras_ssl.models import MaskedLanguageModel

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
        if isinstance(model, MaskedLanguageModel):
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
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        if args.debug:
            raise
        print(f"keras-ssl {args.command}: error: {e}", file=sys.stderr)
        print("(run again with --debug for the full traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
