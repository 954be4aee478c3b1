"""`keras-ssl`: the command line (argument parsing only; work is in workflows)."""

import argparse
import json
import logging
import os
import sys

from keras_ssl.app.cli_config import apply_config, load_config_file, resolved_options


def _add_common(p):
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="JSON or YAML file of option values (keys as the flags, e.g. "
        "batch_size or batch-size); flags given on the command line override it",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the resolved configuration as JSON and exit without running",
    )
    p.add_argument(
        "--debug", action="store_true", help="show full tracebacks on errors"
    )


def _add_resume(p, help_):
    p.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        metavar="RUN_DIR",
        help=help_,
    )


def _add_data_options(p):
    g = p.add_argument_group(
        "your own data", "how to read an image folder or a .csv file"
    )
    g.add_argument("--text-column", default=None, help="CSV column holding the texts")
    g.add_argument("--label-column", default=None, help="CSV column holding the labels")
    g.add_argument(
        "--image-size",
        type=int,
        nargs=2,
        default=None,
        metavar=("HEIGHT", "WIDTH"),
        help="resize the images of a folder (needed when their sizes differ)",
    )
    g.add_argument(
        "--color-mode",
        choices=["grayscale", "rgb"],
        default="grayscale",
        help="channels of the images of a folder (default grayscale)",
    )
    g.add_argument(
        "--tfds-download",
        action="store_true",
        help="let TFDS download a tfds:<name> dataset (off: it must be prepared)",
    )
    g.add_argument(
        "--max-examples",
        type=int,
        default=None,
        help="read at most this many examples of a tfds:<name> split",
    )
    g.add_argument(
        "--skip-invalid",
        "--skip-invalid-images",
        dest="skip_invalid_images",
        action="store_true",
        help="skip images or shard records that do not decode (and count them) "
        "instead of stopping with the file and record",
    )
    g.add_argument(
        "--encoding",
        default=None,
        help="encoding of a .txt/.csv file (default utf-8), e.g. latin-1, cp1252",
    )
    g.add_argument(
        "--stream",
        choices=["auto", "on", "off"],
        default="auto",
        help="read the data from disk through tf.data instead of loading it: "
        "auto streams shard folders (keras-ssl convert), tfds:<name> and large "
        "folders or files",
    )


def _dataset(args, pair=False):
    """`--dataset` as the workflows take it: names stay names, files load here.

    A folder or a .csv file is read with the data flags (streamed when
    large, see `--stream`); with `pair=True` (evaluation) data loaded in
    memory is split 80/20 into (train, test), stratified, seeded, and a
    stream is handed over whole (the workflow splits it).
    """
    name = args.dataset
    stream = {"auto": "auto", "on": True, "off": False}[args.stream]
    if name is not None and name.startswith("tfds:"):
        in_memory = args.max_examples is not None or args.tfds_download
        if stream is not False and not in_memory:
            from keras_ssl.datasets import stream_tfds

            size = tuple(args.image_size) if args.image_size else None
            base = name[len("tfds:") :]
            if pair:
                return (
                    stream_tfds(base, "train", image_size=size),
                    stream_tfds(base, "test", image_size=size),
                )
            return stream_tfds(base, "train", image_size=size)
        if pair:
            return _tfds(args, "train"), _tfds(args, "test")
        return _tfds(args, "train")
    if name is None or not os.path.exists(name):
        return name  # a registered name; the workflow loads (or rejects) it
    from keras_ssl.datasets import LabeledData, load_or_stream

    kwargs = _source_options(args, name)
    data = load_or_stream(name, stream, **kwargs)
    if pair and isinstance(data, LabeledData):
        return data.split(test_fraction=0.2, seed=args.seed)
    return data  # a stream: the workflow splits it (seeded, by record)


def _source_options(args, name):
    """The data flags that apply to the file or folder `name`."""
    from keras_ssl.datasets.registry import is_shard_folder

    kwargs = {}
    if args.skip_invalid_images and os.path.isdir(name):
        kwargs["skip_invalid"] = True
    if args.encoding and not os.path.isdir(name):
        kwargs["encoding"] = args.encoding
    if is_shard_folder(name):
        if args.image_size:
            kwargs["image_size"] = tuple(args.image_size)
    elif name.lower().endswith(".csv"):
        if args.text_column is None:
            raise ValueError(
                "A .csv dataset needs `--text-column`, the column holding the "
                f"texts. Received: --dataset={name!r} without --text-column"
            )
        kwargs["text_column"] = args.text_column
        kwargs["label_column"] = args.label_column
    elif os.path.isdir(name):
        kwargs["color_mode"] = args.color_mode
        if args.image_size:
            kwargs["image_size"] = tuple(args.image_size)
    return kwargs


def _tfds(args, split):
    """Reads a TFDS split into memory as `LabeledData` (`(x, y)` pairs)."""
    import numpy as np

    from keras_ssl.datasets import from_arrays, load

    if args.max_examples is not None and args.max_examples < 1:
        raise ValueError(
            "Argument `--max-examples` must be a positive integer. "
            f"Received: --max-examples={args.max_examples}"
        )
    ds = load(args.dataset, split=split, download=args.tfds_download or None)
    if args.max_examples:
        ds = ds.take(args.max_examples)
    xs, ys = [], []
    for x, y in ds.as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    if not xs:
        raise ValueError(
            f"The TFDS split is empty. Received: --dataset={args.dataset!r}, "
            f"split={split!r}"
        )
    x = np.array(xs, dtype=object) if isinstance(xs[0], bytes) else np.stack(xs)
    if x.dtype == object:
        x = np.array([v.decode("utf-8") for v in x], dtype=object)
    return from_arrays(x, np.asarray(ys), name=f"{args.dataset}:{split}")


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
    _add_data_options(p)
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
    _add_resume(
        p,
        "continue the latest unfinished fine-tuning run under --output-dir "
        "(or RUN_DIR) from its last completed epoch",
    )
    p.add_argument("--output-dir", default="runs")
    _add_common(p)


def _finetune_settings(args):
    """The `FineTuneSettings` of the `finetune` flags (the others keep
    `keras_ssl.app.finetune.DEFAULT_SETTINGS`)."""
    from keras_ssl.app.finetune import finetune_settings

    return finetune_settings(
        freeze=args.freeze,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        dropout=args.dropout,
        head_l2=args.head_l2,
        validation_split=args.validation_split,
        early_stopping_patience=args.patience,
        class_weight=args.class_weight,
        seed=args.seed,
    )


def _run_finetune(args):
    from keras_ssl import app as workflows

    settings = _finetune_settings(args)
    result = workflows.finetune(
        args.model,
        _dataset(args),
        settings,
        output_dir=args.output_dir,
        resume=args.resume,
    )
    keys = ("accuracy", "val_accuracy", "val_loss", "epochs_run", "best_epoch")
    return {
        "metrics": {k: result[k] for k in keys},
        "run_dir": result["run_dir"],
        "Classifier": result["model_path"],
        "TensorBoard": f"tensorboard --logdir {result['log_dir']}",
        "Next": f"keras-ssl export --model {result['model_path']} --name <name>",
    }


def _method_help():
    """`image: simclr | ...; text: mlm | ...`, from the registry."""
    from keras_ssl import recipes

    parts = []
    for modality in ("image", "text"):
        names = recipes.names(modality)
        if names:
            parts.append(f"{modality}: {' | '.join(names)}")
    return "; ".join(parts) + " (keras_ssl.recipes)"


def _add_scale_options(p):
    g = p.add_argument_group("scale and speed")
    g.add_argument(
        "--strategy",
        default="auto",
        help="auto | one_device | mirrored | multi_worker (TF_CONFIG names the "
        "workers); the global batch must divide by the number of replicas",
    )
    g.add_argument(
        "--mixed-precision",
        default="off",
        help="off | auto | mixed_float16 | mixed_bfloat16",
    )
    g.add_argument(
        "--jit-compile",
        choices=["auto", "on", "off"],
        default="auto",
        help="XLA: auto (on with a GPU, off on CPU and for replicas on CPU devices)",
    )
    g.add_argument(
        "--deterministic",
        action="store_true",
        help="deterministic TensorFlow ops: the same seed gives the same bits "
        "(slower; XLA off)",
    )


def _add_reliability_options(p):
    g = p.add_argument_group("reliability and monitoring")
    _add_resume(
        g,
        "continue the latest unfinished run of --method under --output-dir "
        "(or RUN_DIR) from its last checkpoint",
    )
    g.add_argument(
        "--checkpoint-every",
        type=int,
        default=100,
        help="steps between checkpoints (also at every epoch end)",
    )
    g.add_argument(
        "--monitor",
        action="store_true",
        help="TensorBoard: kNN accuracy of a labelled monitor set, view / "
        "reconstruction / masked-token / generated-text panels, Embedding Projector",
    )
    g.add_argument(
        "--collapse-guard",
        choices=["warn", "stop"],
        default=None,
        help="two-view methods: warn or stop when the projections collapse",
    )


def _add_pretrain_parser(sub):
    p = sub.add_parser("pretrain", help="pretrain an SSL model")
    p.add_argument("--method", default="simclr", help=_method_help())
    p.add_argument(
        "--dataset",
        default=None,
        help="fashion_mnist, wordnet, a folder of shards (keras-ssl convert), "
        "an image folder, a .txt/.csv file, tfds:<name> (default: wordnet for "
        "text methods, fashion_mnist otherwise)",
    )
    _add_data_options(p)
    p.add_argument(
        "--encoder",
        default=None,
        help="encoder to train: conv | transformer (keras_ssl's own, the "
        "default), an image name (resnet50v2, mobilenetv3small, "
        "efficientnetv2b0, convnexttiny, ...) or text name (bert_tiny, "
        "bert_mini, bert_small, bert_base, electra_tiny), a keras-hub preset "
        "folder or "
        "a .keras file (`keras-ssl encoders` lists them)",
    )
    p.add_argument(
        "--init-from",
        default=None,
        help="continue pretraining from a keras-hub preset folder, a .keras "
        "file or a run folder (its weights, and for text its tokenizer)",
    )
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--steps-per-epoch", type=int, default=None)
    p.add_argument(
        "--time-budget",
        type=float,
        default=None,
        help="seconds of training: the warm-up + cosine schedule is sized to the "
        "steps they allow (measured), so the run ends with its learning rate decayed",
    )
    _add_scale_options(p)
    _add_reliability_options(p)
    p.add_argument(
        "--model-kwargs",
        default="{}",
        help="JSON of encoder/method settings, e.g. '{\"collapse_metrics\": true}' "
        'or \'{"hidden_dim": 128, "mask_rate": 0.4}\'',
    )
    p.add_argument("--output-dir", default="runs")
    _add_common(p)


def _add_probe_parsers(sub):
    for name, help_ in (
        ("probe", "evaluate a pretrained model against its baselines"),
        ("evaluate", "alias of probe"),
    ):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--model", required=True, help="path to model.keras")
        p.add_argument(
            "--dataset",
            default=None,
            help="labelled data: a name, an image folder or a .csv (split "
            "80/20) (default: fashion_mnist / wordnet_nouns)",
        )
        _add_data_options(p)
        p.add_argument(
            "--log-dir",
            default=None,
            help="TensorBoard folder (default: logs/ in the run directory)",
        )
        p.add_argument("--output-dir", default="runs")
        _add_common(p)


def _add_tune_parser(sub):
    p = sub.add_parser(
        "tune", help="search fine-tuning hyperparameters with keras-tuner"
    )
    p.add_argument("--model", required=True, help="path to model.keras")
    p.add_argument(
        "--dataset",
        default=None,
        help="labelled data (default: fashion_mnist / wordnet_nouns)",
    )
    _add_data_options(p)
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


def _add_tune_pretraining_parser(sub):
    from keras_ssl import recipes

    p = sub.add_parser(
        "tune-pretraining",
        help="label-free search over pretraining hyperparameters (keras-tuner)",
    )
    p.add_argument(
        "--method",
        default="simclr",
        help=" | ".join(recipes.names(searchable=True))
        + " (the methods with a search space)",
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


def _add_export_parser(sub):
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


def _add_convert_parser(sub):
    p = sub.add_parser(
        "convert",
        help="write an image folder, a .txt/.csv file or an embedded dataset "
        "as TFRecord shards with a checksummed index, to stream from",
    )
    p.add_argument(
        "source",
        help="an image folder (one subfolder per class, or flat), a .txt file "
        "(one document per line), a .csv file, or fashion_mnist / wordnet",
    )
    p.add_argument("destination", help="the shard folder to create (must not exist)")
    p.add_argument("--shard-size", type=int, default=10_000, help="examples per shard")
    p.add_argument(
        "--image-size",
        type=int,
        nargs=2,
        default=None,
        metavar=("HEIGHT", "WIDTH"),
        help="resize the images (needed when their sizes differ)",
    )
    p.add_argument(
        "--color-mode",
        choices=["grayscale", "rgb"],
        default=None,
        help="convert the images' channels (default: keep them; they must agree)",
    )
    p.add_argument(
        "--skip-invalid",
        action="store_true",
        help="skip images that do not decode (counted in the index)",
    )
    p.add_argument("--text-column", default=None, help="CSV column of the texts")
    p.add_argument("--label-column", default=None, help="CSV column of the labels")
    p.add_argument("--encoding", default="utf-8", help="encoding of a .txt/.csv file")
    p.add_argument(
        "--image-format",
        choices=["auto", "raw", "encoded"],
        default="auto",
        help="store images as raw pixels (nothing to decode when training) or "
        "encoded (PNG, or the files' own JPEG/PNG); auto: raw up to 4,096 "
        "values per image (e.g. 64x64 grey), encoded above",
    )
    p.add_argument(
        "--split",
        default=None,
        help="split of an embedded dataset (fashion_mnist: train or test)",
    )
    _add_common(p)


def _run_convert(args):
    from keras_ssl.datasets import load, write_shards

    source = args.source
    if not os.path.exists(source):
        source = load(source, split=args.split)  # an embedded dataset's name
    index = write_shards(
        source,
        args.destination,
        shard_size=args.shard_size,
        image_size=tuple(args.image_size) if args.image_size else None,
        color_mode=args.color_mode,
        skip_invalid=args.skip_invalid,
        text_column=args.text_column,
        label_column=args.label_column,
        encoding=args.encoding,
        image_format=args.image_format,
    )
    return {
        "metrics": {
            "examples": index["count"],
            "shards": len(index["shards"]),
            "skipped": index["skipped"],
        },
        "Shards": args.destination,
        "Next": f"keras-ssl pretrain --dataset {args.destination}",
    }


def _add_backbone_parsers(sub):
    p = sub.add_parser(
        "save-preset",
        help="save a pretrained encoder (keras-hub backbone) as a keras-hub preset",
    )
    p.add_argument("--model", required=True, help="path to model.keras")
    p.add_argument("--output", required=True, help="preset folder to create")
    _add_common(p)
    p = sub.add_parser(
        "build-base",
        help="pretrain a general base model, text or image (a keras-hub "
        "preset, cached)",
    )
    p.add_argument(
        "--name",
        default="text",
        choices=["text", "image"],
        help="text: BERT 2x128, MLM on general English text; image: a small "
        "ResNet, SimCLR on Debian's photographs and clip art",
    )
    p.add_argument("--time-budget", type=float, default=None, help="seconds")
    p.add_argument("--cache-dir", default=None, help="default ~/.cache/keras_ssl")
    p.add_argument("--force", action="store_true", help="rebuild if cached")
    _add_common(p)
    p = sub.add_parser("encoders", help="list the encoders --encoder accepts")
    _add_common(p)


def _run_save_preset(args):
    from keras_ssl.app.export import save_preset

    path = save_preset(args.model, args.output)
    return {
        "Preset": path,
        "Load": f"keras_hub.models.Backbone.from_preset({path!r})",
        "Next": f"keras-ssl pretrain --init-from {path}",
    }


def _run_build_base(args):
    from keras_ssl.app.base_models import build_base_model

    result = build_base_model(
        args.name,
        cache_dir=args.cache_dir,
        time_budget=args.time_budget,
        force=args.force,
        seed=args.seed,
    )
    method, data = (
        ("simclr", "IMAGES/") if args.name == "image" else ("mlm", "YOUR_TEXT.txt")
    )
    return {
        "metrics": _numbers(result),
        "Preset": result["preset"],
        "Next": f"keras-ssl pretrain --method {method} --dataset {data} "
        f"--init-from {result['preset']}",
    }


def _run_encoders(args):
    from keras_ssl.encoders import IMAGE_BACKBONES, TEXT_BACKBONES

    for name, spec in IMAGE_BACKBONES.items():
        default = ", the default" if name == "conv" else ""
        print(f"image: {name} ({spec.description}{default})")
    print("text: transformer (keras_ssl's Transformer, the default)")
    for name, spec in TEXT_BACKBONES.items():
        print(f"text: {name} ({spec.description})")
    print("or: a keras-hub preset folder, or a .keras file")
    return {}


def _add_demo_parser(sub):
    p = sub.add_parser("demo", help="the end-to-end demo on the embedded data")
    p.add_argument("--output-dir", default="runs")
    p.add_argument("--export-dir", default="saved_models")
    p.add_argument("--image-seconds", type=float, default=100)
    p.add_argument("--text-seconds", type=float, default=240)
    _add_common(p)


def build_parser():
    """The `keras-ssl` argument parser, one sub-command per workflow."""
    parser = argparse.ArgumentParser(
        prog="keras-ssl",
        description="Self-supervised pretraining, evaluation and export "
        "for Keras 3 / TensorFlow.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_pretrain_parser(sub)
    _add_probe_parsers(sub)
    _add_finetune_parser(sub)
    _add_tune_parser(sub)
    _add_tune_pretraining_parser(sub)
    _add_export_parser(sub)
    _add_convert_parser(sub)
    _add_backbone_parsers(sub)
    _add_demo_parser(sub)
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


def _numbers(result):
    return {
        k: v
        for k, v in result.items()
        if isinstance(v, float | int) and not isinstance(v, bool)
    }


def _run_pretrain(args):
    from keras_ssl import app as workflows

    result = workflows.pretrain(
        method=args.method,
        dataset=_dataset(args),
        output_dir=args.output_dir,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        steps_per_epoch=args.steps_per_epoch,
        time_budget=args.time_budget,
        strategy=args.strategy,
        mixed_precision=args.mixed_precision,
        jit_compile={"auto": "auto", "on": True, "off": False}[args.jit_compile],
        resume=args.resume,
        checkpoint_every=args.checkpoint_every,
        monitor=args.monitor,
        collapse_guard=args.collapse_guard,
        deterministic=args.deterministic,
        seed=args.seed,
        model_kwargs=_json_object("--model-kwargs", args.model_kwargs),
        encoder=args.encoder,
        init_from=args.init_from,
    )
    return {
        "metrics": _numbers(result),
        "run_dir": result["run_dir"],
        "Model": result["model_path"],
        "TensorBoard": f"tensorboard --logdir {result['log_dir']}",
        "Next": f"keras-ssl probe --model {result['model_path']}",
    }


def _run_probe(args):
    from keras_ssl import app as workflows
    from keras_ssl.app.run_directory import (
        make_run_directory,
        write_json,
        write_lines,
    )
    from keras_ssl.evaluation import format_results_table
    from keras_ssl.tokenizers import TextPreprocessor

    model = workflows.load_ssl_model(args.model)
    run_dir = make_run_directory(args.output_dir, "probe")
    log_dir = args.log_dir or os.path.join(run_dir, "logs")
    if isinstance(getattr(model, "preprocessor", None), TextPreprocessor):
        evaluate, default = workflows.evaluate_text, "wordnet_nouns"
    else:
        evaluate, default = workflows.evaluate_images, "fashion_mnist"
    dataset = _dataset(args, pair=True) or default
    rows = evaluate(model, dataset, log_dir=log_dir, seed=args.seed)
    table = format_results_table(rows)
    print(table)
    write_json(os.path.join(run_dir, "results.json"), rows)
    write_lines(os.path.join(run_dir, "results.md"), [table])
    return {
        "run_dir": run_dir,
        "Results": os.path.join(run_dir, "results.json"),
        "TensorBoard": f"tensorboard --logdir {log_dir}",
    }


def _run_tune(args):
    from keras_ssl.app.tune import tune

    result = tune(
        args.model,
        _dataset(args),
        tuner=args.tuner,
        max_trials=args.max_trials,
        epochs=args.epochs,
        output_dir=args.output_dir,
        seed=args.seed,
        export_dir=args.export_dir,
        train_size=args.train_size,
    )
    summary = {
        "metrics": {
            "val_accuracy": result["val_accuracy"],
            "test_accuracy": result["test_accuracy"],
        },
        "Best hyperparameters": json.dumps(
            result["best_hyperparameters"], sort_keys=True
        ),
        "run_dir": result["run_dir"],
        "Results": os.path.join(result["run_dir"], "results.md"),
        "Classifier": result["classifier_path"],
    }
    if result.get("export_path"):
        summary["Exported"] = result["export_path"]
    return summary


def _run_tune_pretraining(args):
    from keras_ssl.app.tune_pretraining import tune_pretraining

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
    return {
        "metrics": {result["objective"]: result["best_score"]},
        "Best hyperparameters": json.dumps(
            result["best_hyperparameters"], sort_keys=True
        ),
        "run_dir": result["run_dir"],
        "Results": os.path.join(result["run_dir"], "results.md"),
    }


def _run_export(args):
    from keras_ssl import app as workflows

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
    return {
        "Exported": path,
        "Inspect": f"saved_model_cli show --dir {path} --all",
    }


def _run_demo(args):
    from keras_ssl.app.demo import run_demo

    run_demo(
        output_dir=args.output_dir,
        export_dir=args.export_dir,
        image_seconds=args.image_seconds,
        text_seconds=args.text_seconds,
        seed=args.seed,
    )
    return {}


_COMMANDS = {
    "pretrain": _run_pretrain,
    "probe": _run_probe,
    "evaluate": _run_probe,
    "finetune": _run_finetune,
    "tune": _run_tune,
    "tune-pretraining": _run_tune_pretraining,
    "export": _run_export,
    "convert": _run_convert,
    "save-preset": _run_save_preset,
    "build-base": _run_build_base,
    "encoders": _run_encoders,
    "demo": _run_demo,
}


def _print_summary(summary):
    if not summary:
        return
    print("")
    if "metrics" in summary:
        print(f"Summary: {json.dumps(summary['metrics'], sort_keys=True)}")
    if "run_dir" in summary:
        print(f"Run directory: {summary['run_dir']} (config, metrics, logs)")
    for key, value in summary.items():
        if key not in ("metrics", "run_dir"):
            print(f"{key}: {value}")


class _Records(logging.Handler):
    """Keeps the run's log lines so they can be written into its run dir."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []
        self.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )

    def emit(self, record):
        self.lines.append(self.format(record))


def _write_run_files(run_dir, argv, args, records):
    from keras_ssl.app.run_directory import write_json, write_lines

    write_json(
        os.path.join(run_dir, "command.json"),
        {"argv": ["keras-ssl", *argv], "options": resolved_options(args)},
    )
    write_lines(
        os.path.join(run_dir, "run.log"),
        ["$ keras-ssl " + " ".join(argv), *records.lines],
    )


def _dry_run(args):
    options = {"command": args.command, **resolved_options(args)}
    if args.command == "pretrain":  # catch what is checkable without data
        from keras_ssl.app.pretrain import check_method

        check_method(args.method)
        options["model_kwargs"] = _json_object("--model-kwargs", args.model_kwargs)
    print(json.dumps(options, indent=2, sort_keys=True))
    return 0


def _command_of(parser, argv):
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    command = next((a for a in argv if not a.startswith("-")), None)
    return command, sub.choices.get(command)


def _config_path(argv):
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
    return None


def _fail(command, error, debug):
    if debug:
        raise error
    message = str(error).strip().replace("\n", " ") or type(error).__name__
    known = (ValueError, FileNotFoundError, FileExistsError, RuntimeError)
    if not isinstance(error, known):
        message = f"unexpected {type(error).__name__}: {message}"
    print(f"keras-ssl {command}: error: {message}", file=sys.stderr)
    print("(run again with --debug for the full traceback)", file=sys.stderr)
    return 2


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    command, sub_parser = _command_of(parser, argv)
    path = _config_path(argv)
    if sub_parser is not None and path is not None:
        try:
            apply_config(sub_parser, command, load_config_file(path))
        except (ValueError, FileNotFoundError) as e:
            return _fail(command, e, "--debug" in argv)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    if args.dry_run:
        try:
            return _dry_run(args)
        except ValueError as e:
            return _fail(args.command, e, args.debug)
    records = _Records()
    package_logger = logging.getLogger("keras_ssl")
    package_logger.addHandler(records)
    previous_level = package_logger.level
    if package_logger.getEffectiveLevel() > logging.INFO:
        package_logger.setLevel(logging.INFO)
    try:
        summary = _COMMANDS[args.command](args)
        if summary.get("run_dir"):
            _write_run_files(summary["run_dir"], argv, args, records)
        _print_summary(summary)
        return 0
    except KeyboardInterrupt:
        print(f"keras-ssl {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # one clear line, the traceback with --debug
        return _fail(args.command, e, args.debug)
    finally:
        package_logger.removeHandler(records)
        package_logger.setLevel(previous_level)


if __name__ == "__main__":
    sys.exit(main())
