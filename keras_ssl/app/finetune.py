"""Fine-tuning workflow: SSL model + labelled data → `classifier.keras`."""

import os
import re

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.app.evaluate import (
    as_streams,
    load_ssl_model,
    resolve_part,
    split_labelled,
)
from keras_ssl.app.pretrain import tokenize
from keras_ssl.app.run_directory import (
    check_same_config,
    checkpoint_directory,
    clean_run_directory,
    make_run_directory,
    resolve_resume,
    save_model,
    write_json,
)
from keras_ssl.callbacks.run_checkpoint import RunCheckpoint
from keras_ssl.checks import check_positive_int
from keras_ssl.datasets import LabeledData, StreamedData, load
from keras_ssl.evaluation import FineTuneSettings, TaskClassifier, fine_tune
from keras_ssl.evaluation.embed import stream_labels, subset_stream
from keras_ssl.evaluation.fine_tune_settings import resolve_settings
from keras_ssl.evaluation.gradual_unfreezing import encoder_blocks
from keras_ssl.tokenizers import TextPreprocessor, check_texts

# Datasets with a fixed train/test split; other data is split here.
_SPLIT_DATASETS = ("fashion_mnist", "wordnet", "wordnet_nouns")
_TOP_K = re.compile(r"top-(\d+)")
_FREEZE_FIELDS = ("freeze_encoder", "trainable_layers", "gradual_unfreezing")

# `finetune`'s defaults: `None` batch size and learning rate are chosen by
# modality (128 and 1e-3 for images, 64 and 3e-3 for text).
DEFAULT_SETTINGS = FineTuneSettings(
    epochs=5, batch_size=None, learning_rate=None, validation_split=0.1
)


def parse_freeze(freeze):
    """`"head" | "all" | "top-K" | "gradual"` → `fine_tune` keyword arguments."""
    if isinstance(freeze, str):
        if freeze == "all":
            return {}
        if freeze == "head":
            return {"freeze_encoder": True}
        if freeze == "gradual":
            return {"gradual_unfreezing": True}
        match = _TOP_K.fullmatch(freeze)
        if match:
            return {"trainable_layers": int(match.group(1))}
    raise ValueError(
        "Argument `freeze` must be 'head' (train the head only), 'all' (the "
        "whole encoder), 'top-K' (the top K encoder blocks, e.g. 'top-2') or "
        f"'gradual' (one more block per epoch). Received: freeze={freeze!r}"
    )


def _labelled(data, dataset, split):
    if not isinstance(data, LabeledData | StreamedData):
        raise ValueError(
            "Argument `dataset` must be a dataset name, a path, a LabeledData, "
            "a StreamedData, a tf.data.Dataset or a (train, test) pair of "
            f"them. Received: dataset={dataset!r} giving {type(data).__name__}"
        )
    if data.y is None:
        raise ValueError(
            "Fine-tuning needs labelled data. Received: dataset="
            f"{dataset!r} ({split}) without labels; use a dataset with labels "
            "(fashion_mnist, wordnet_nouns, an image folder with one subfolder "
            "per class, a CSV with a label column, shards of labelled data)."
        )
    if (len(data) if isinstance(data, LabeledData) else data.num_examples) == 0:
        raise ValueError(f"The dataset is empty. Received: dataset={dataset!r}")
    return data


def load_labelled(dataset, test_fraction=0.2, seed=0, stream="auto"):
    """Returns `(train, test)` for a name, a path, one source or a pair.

    Named datasets use their own train/test split; a folder, a file, a
    `LabeledData`, a `StreamedData` or a `tf.data.Dataset` is split here
    (`test_fraction` held out: stratified in memory, a seeded hash split
    for a stream, see `keras_ssl.evaluation.embed.split_stream`). Paths are
    loaded or streamed by `keras_ssl.datasets.load_or_stream(path,
    stream)`; each part is a `LabeledData` or a `StreamedData`.
    """
    if isinstance(dataset, tuple | list) and len(dataset) == 2:
        return (
            _labelled(resolve_part(dataset[0], stream), dataset, "train"),
            _labelled(resolve_part(dataset[1], stream), dataset, "test"),
        )
    if isinstance(dataset, str) and dataset in _SPLIT_DATASETS:
        return (
            _labelled(load(dataset, split="train"), dataset, "train"),
            _labelled(load(dataset, split="test"), dataset, "test"),
        )
    data = _labelled(resolve_part(dataset, stream), dataset, "all")
    return split_labelled(data, test_fraction, seed)


def class_labels(train, test):
    """`(num_classes, label_names)` of a train/test pair; `label_names` is
    None unless the names are usable as one distinct name per class."""
    label_names = train.label_names
    num_classes = int(max(train.y.max(), test.y.max()) + 1)
    if label_names is not None:
        num_classes = max(num_classes, len(label_names))
        label_names = [str(n) for n in label_names]
        if len(label_names) != num_classes or len(set(label_names)) != num_classes:
            label_names = None  # not usable as one name per class
    return num_classes, label_names


def stream_class_labels(train, test):
    """`class_labels` of streamed splits: from the class names, or from
    the labels (read in one pass) when the streams have none."""
    if train.label_names is not None:
        label_names = [str(n) for n in train.label_names]
        unique = len(set(label_names)) == len(label_names)
        return len(label_names), label_names if unique else None
    labels = [stream_labels(part) for part in (train, test)]
    largest = max(int(y.max()) for y in labels if len(y))
    return largest + 1, None


def prepare_stream(model, data, name):
    """Checks a stream against the model; returns the `preprocess` that
    turns its batches into model inputs (`None`: images scaled to
    `[0, 1]`)."""
    preprocessor = getattr(model, "preprocessor", None)
    if isinstance(preprocessor, TextPreprocessor):
        if data.modality != "text":
            raise ValueError(
                "The model is a text model, so the data must be texts. "
                f"Received: {name} data streaming {data.modality} examples"
            )
        return preprocessor
    want = tuple(model.encoder.input_shape[1:])
    if data.modality != "image" or tuple(data.image_shape or ()) != want:
        raise ValueError(
            "The model is an image model, so the data must be images of its "
            f"input shape {want}. Received: {name} data streaming "
            f"{data.modality} examples"
            + (f" of shape {tuple(data.image_shape)}" if data.image_shape else "")
        )
    return None


def _prepare(model, data, name):
    """Images → float32 in [0, 1]; texts → token ids with the model's tokenizer."""
    preprocessor = getattr(model, "preprocessor", None)
    if isinstance(preprocessor, TextPreprocessor):
        if data.x.dtype != object:
            raise ValueError(
                f"The model is a text model, so the data must be texts. "
                f"Received: {name} data with x.shape={data.x.shape}, "
                f"dtype={data.x.dtype}"
            )
        return tokenize(
            preprocessor, check_texts(data.x, f"{name} texts", empty="keep")
        )
    want = tuple(model.encoder.input_shape[1:])
    if data.x.dtype == object or data.x.shape[1:] != want:
        raise ValueError(
            "The model is an image model, so the data must be images of its "
            f"input shape {want}. Received: {name} data with "
            f"x.shape={data.x.shape}, dtype={data.x.dtype}"
        )
    if data.x.dtype == np.uint8:
        return data.x.astype("float32") / 255.0
    return data.x.astype("float32")


def finetune_settings(settings=None, freeze=None, **overrides):
    """`finetune`'s settings: `settings` (default `DEFAULT_SETTINGS`) with
    `overrides` and the `freeze` strategy applied, validated.

    Args:
        settings: a `keras_ssl.evaluation.FineTuneSettings` or `None`.
        freeze: `None` (keep the settings' freeze strategy), `"all"`,
            `"head"`, `"top-K"` or `"gradual"` (see `parse_freeze`).
        **overrides: settings that replace those of `settings`; a
            `validation_split` of `0` means `None`.

    Returns:
        A `FineTuneSettings` whose `freeze` is one of the strategies above.

    Example:

    >>> finetune_settings(freeze="top-2", epochs=3).trainable_layers
    2
    """
    if freeze is not None:
        given = sorted(set(overrides) & set(_FREEZE_FIELDS))
        if given:
            raise ValueError(
                f"Pass either `freeze` or {given}, not both. "
                f"Received: freeze={freeze!r} and {given}"
            )
        overrides.update(
            freeze_encoder=False, trainable_layers=None, gradual_unfreezing=False
        )
        overrides.update(parse_freeze(freeze))
    if "validation_split" in overrides and overrides["validation_split"] == 0:
        overrides["validation_split"] = None
    settings = resolve_settings(settings, overrides, default=DEFAULT_SETTINGS)
    if settings.freeze is None:
        raise ValueError(
            "`finetune` starts gradual unfreezing with the head only. Received: "
            "settings with gradual_unfreezing=True and "
            f"trainable_layers={settings.trainable_layers}; use "
            "`keras_ssl.evaluation.fine_tune` to start with more blocks"
        )
    if settings.early_stopping_patience is not None and (
        settings.validation_split is None
    ):
        raise ValueError(
            "Early stopping needs a validation split. Received: "
            f"early_stopping_patience={settings.early_stopping_patience} with "
            "validation_split=None"
        )
    return settings


def finetune(
    model,
    dataset=None,
    settings=None,
    *,
    output_dir="runs",
    freeze=None,
    train_size=None,
    test_size=None,
    verbose="auto",
    resume=False,
    callbacks=None,
    stream="auto",
    **overrides,
):
    """Fine-tunes a pretrained SSL encoder on a labelled task; saves the classifier.

    The encoder of `model` gets a linear head (batch norm, dropout, `Dense`)
    and is fine-tuned with `keras_ssl.evaluation.fine_tune`: AdamW with
    decoupled weight decay, linear warm-up then cosine decay, the chosen
    freeze strategy, optional L2 on the head and class weights, and early
    stopping on a validation split with the best weights restored.

    The fine-tuning settings are a `keras_ssl.evaluation.FineTuneSettings`:
    `settings` (default `DEFAULT_SETTINGS`), each overridden by the keyword
    argument of the same name, so `finetune(path, epochs=3)` and
    `finetune(path, settings=DEFAULT_SETTINGS.replace(epochs=3))` are the
    same run.

    Images are scaled to `[0, 1]` (as in pretraining); texts are tokenized
    with the model's own `TextPreprocessor`. The run directory
    `output_dir/finetune-<stamp>/` holds `classifier.keras` (a
    `TaskClassifier`: it takes raw inputs — uint8 images or raw strings, its
    preprocessor inside — and carries the class names), `config.json`,
    `metrics.json` and TensorBoard logs under `logs/`. `keras-ssl export
    --model .../classifier.keras` then writes a SavedModel returning
    probabilities and labels. Every file is written atomically (temporary
    file, then rename).

    Resume: a `keras_ssl.callbacks.RunCheckpoint` in `checkpoint/` is
    saved at every epoch end (and deleted once `metrics.json`, written
    last, marks the run finished). `resume=True` continues the unfinished
    fine-tuning run under `output_dir` checkpointed most recently,
    `resume="<run dir>"` that run; pass the same arguments (checked against
    its `config.json`, differing keys named). Training continues with the
    epoch after the last completed one, with the weights, optimizer state
    (learning-rate position), random generators and history of that
    epoch end. It is epoch-granular and not bit-exact: the data order of the
    remaining epochs, the early-stopping counters and the head-only
    `probe_epochs` (re-run, then overwritten by the checkpoint) are
    `fine_tune`'s own and start afresh. A finished run is never trained
    over: resuming it is an error.

    Args:
        model: SSL model (`SimCLR`, `MaskedLanguageModel`, ...) or the path
            to its `.keras` file (`keras-ssl pretrain`'s `model.keras`).
        dataset: labelled data: a name (`"fashion_mnist"`,
            `"wordnet_nouns"`, `"wordnet"`: their train/test splits), a path
            (image folder, CSV with a label column, folder of TFRecord
            shards: 20% held out for the test), a `LabeledData`, a
            `StreamedData`, a `tf.data.Dataset` of `(x, y)`, or a
            `(train, test)` pair of them. Defaults to `"fashion_mnist"` /
            `"wordnet_nouns"`. Streams are never loaded: `fit` reads
            seeded, shuffled batches from disk (texts tokenized in the
            pipeline), and a stream's held-out parts are seeded hash
            splits, not stratified (see
            `keras_ssl.evaluation.embed.split_stream`).
        settings: a `FineTuneSettings`; `None`: `DEFAULT_SETTINGS`.
        output_dir: parent folder of the run directory.
        freeze: `"all"` (fine-tune the whole encoder), `"head"` (train the
            head only), `"top-K"` (the top `K` encoder blocks, e.g.
            `"top-2"`) or `"gradual"` (head first, then one more block from
            the top each epoch); `None` keeps the settings' strategy
            (`"all"` by default).
        train_size, test_size: optional random subsets (quick runs; of a
            stream: `subset_stream` views).
        verbose: Keras verbosity.
        resume: `False` (new run), `True` (latest unfinished fine-tuning run
            under `output_dir`) or the path of a run directory.
        callbacks: extra Keras callbacks for the fine-tuning `fit`.
        stream: how a path is read (`keras_ssl.datasets.load_or_stream`):
            `"auto"` (stream shard folders and large folders or files),
            `True` or `False`.
        **overrides: settings (fields of `FineTuneSettings`) replacing those
            of `settings`, with these defaults:
            `epochs` (5): maximum passes over the training data.
            `batch_size` (None: 128 for images, 64 for text).
            `learning_rate` (None: 1e-3 for images, 3e-3 for text, the
            settings of the evaluation protocols): peak learning rate.
            `weight_decay` (0.01): AdamW (decoupled) weight decay.
            `dropout` (0.1): dropout before the head.
            `head_l2` (0.0): L2 penalty on the head's kernel.
            `probe_epochs` (0): epochs of head-only training first (LP-FT).
            `warmup_fraction` (0.1): fraction of the steps of linear warm-up.
            `validation_split` (0.1): fraction of the training data held out
            (stratified) for validation; `None` or `0` for none.
            `early_stopping_patience` (None): stop after this many epochs
            without a lower validation loss and restore the best weights;
            `None` trains all `epochs`.
            `class_weight` (None): `None`, `"balanced"` or a dict
            `{class id: weight}`.
            `seed` (0): random seed (head, data order, splits).

    Returns:
        dict with `run_dir`, `model` (the `TaskClassifier`), `model_path`,
        `log_dir`, `history`, and the metrics written to `metrics.json`
        (`accuracy` on the test split, `val_accuracy`, `val_loss`,
        `epochs_run`, `best_epoch`, `seconds`, `resumed_from_epoch` (`None`
        for a new run), ...); `history` holds every epoch, those before a
        resume included.

    Example:

    ```python
    result = finetune("runs/simclr-<stamp>/model.keras", "fashion_mnist",
                      freeze="gradual", early_stopping_patience=2)
    result["accuracy"]
    ```
    """
    settings = finetune_settings(settings, freeze, **overrides)
    check_positive_int("train_size", train_size, allow_none=True)
    check_positive_int("test_size", test_size, allow_none=True)
    # Before any loading: nothing to resume, or a finished run, fails fast.
    resume_dir = resolve_resume(
        resume,
        output_dir,
        "finetune",
        matches=lambda config: "freeze" in config and "model_class" in config,
    )
    source = os.fspath(model) if isinstance(model, str | os.PathLike) else None
    model = load_ssl_model(model)
    is_text = isinstance(getattr(model, "preprocessor", None), TextPreprocessor)
    _check_blocks(model.encoder, settings)
    if dataset is None:
        dataset = "wordnet_nouns" if is_text else "fashion_mnist"
    data = _task_data(model, dataset, settings.seed, train_size, test_size, stream)
    settings = settings.replace(
        batch_size=settings.batch_size or (64 if is_text else 128),
        learning_rate=settings.learning_rate or (3e-3 if is_text else 1e-3),
    )
    config = _run_config(model, source, dataset, data, settings, train_size, test_size)
    run_dir = _start_run(output_dir, resume_dir, config, source)
    log_dir = os.path.join(run_dir, "logs")
    # Restores itself when `fit` begins (the classifier is built inside
    # `fine_tune`) and continues with the next epoch.
    checkpoint = RunCheckpoint(checkpoint_directory(run_dir), save_freq="epoch")
    result = fine_tune(
        model.encoder,
        data["x_train"],
        data["y_train"],
        data["x_test"],
        data["y_test"],
        settings.replace(batch_size=_fit_batch_size(settings, data["num_train"])),
        num_classes=data["num_classes"],
        preprocess=data["preprocess"],
        callbacks=[
            checkpoint,
            keras.callbacks.TensorBoard(log_dir),
            *(callbacks or []),
        ],
        verbose=verbose,
    )
    classifier = TaskClassifier(
        result["model"],
        preprocessor=model.preprocessor if is_text else None,
        label_names=data["label_names"],
        name="task_classifier",
    )
    model_path = save_model(classifier, os.path.join(run_dir, "classifier.keras"))
    # Every epoch of the run, those before a resume included.
    history = checkpoint.history or result["history"]
    metrics = _write_metrics(run_dir, log_dir, result, history, checkpoint)
    return {
        "run_dir": run_dir,
        "model": classifier,
        "model_path": model_path,
        "log_dir": log_dir,
        "history": history,
        **metrics,
    }


def _check_blocks(encoder, settings):
    num_blocks = len(encoder_blocks(encoder))
    if settings.trainable_layers is not None and (
        settings.trainable_layers > num_blocks
    ):
        raise ValueError(
            f"Argument `freeze` asks for more blocks than the encoder has "
            f"({num_blocks}). Received: freeze={settings.freeze!r}"
        )


def _start_run(output_dir, resume_dir, config, source):
    """A new run directory with `config.json`, or the run to resume (its
    config checked against `config`). Returns its path."""
    if resume_dir is None:
        run_dir = make_run_directory(output_dir, "finetune")
        write_json(os.path.join(run_dir, "config.json"), config)
        return run_dir
    clean_run_directory(resume_dir)
    # An in-memory model's name is not its identity: only a path is.
    check_same_config(resume_dir, config, ignore=() if source else ("model",))
    return resume_dir


def _task_data(model, dataset, seed, train_size, test_size, stream="auto"):
    """The train/test splits, the model inputs and the classes of `dataset`
    (streams stay streams: `x_*` is then the stream, `y_*` `None`)."""
    train, test = load_labelled(dataset, seed=seed, stream=stream)
    streams = as_streams(train, test)
    if streams is not None:
        return _stream_task_data(model, dataset, streams, seed, train_size, test_size)
    if train_size is not None:
        train = train.subset(min(train_size, len(train)), seed=seed)
    if test_size is not None:
        test = test.subset(min(test_size, len(test)), seed=seed)
    x_train = _prepare(model, train, "training")
    x_test = _prepare(model, test, "test")
    num_classes, label_names = class_labels(train, test)
    _check_classes(num_classes, dataset)
    return {
        "train": train,
        "test": test,
        "x_train": x_train,
        "y_train": train.y,
        "x_test": x_test,
        "y_test": test.y,
        "num_train": len(x_train),
        "preprocess": None,
        "num_classes": num_classes,
        "label_names": label_names,
    }


def _stream_task_data(model, dataset, streams, seed, train_size, test_size):
    """`_task_data` of streamed splits: views, never loaded."""
    train, test = streams
    if train_size is not None:
        train = subset_stream(train, train_size, seed=seed)
    if test_size is not None:
        test = subset_stream(test, test_size, seed=seed)
    preprocess = prepare_stream(model, train, "training")
    prepare_stream(model, test, "test")
    num_classes, label_names = stream_class_labels(train, test)
    _check_classes(num_classes, dataset)
    return {
        "train": train,
        "test": test,
        "x_train": train,
        "y_train": None,
        "x_test": test,
        "y_test": None,
        "num_train": train.num_examples,
        "preprocess": preprocess,
        "num_classes": num_classes,
        "label_names": label_names,
    }


def _check_classes(num_classes, dataset):
    if num_classes < 2:
        raise ValueError(
            "Fine-tuning needs at least 2 classes. Received: labels of "
            f"{num_classes} class in dataset={dataset!r}"
        )


def _fit_batch_size(settings, num_examples):
    """The batch size, at most the examples left once validation is held out."""
    num_fit = num_examples
    split = settings.validation_split
    if split is not None and 0 < split < 1:
        num_fit -= min(max(round(num_fit * split), 1), num_fit - 1)
    return max(1, min(settings.batch_size, num_fit))


def _run_config(model, source, dataset, data, settings, train_size, test_size):
    """The run's `config.json` (what a resume must match)."""
    class_weight = settings.class_weight
    return {
        "model": source or model.name,
        "model_class": type(model).__name__,
        "dataset": str(dataset) if isinstance(dataset, str | os.PathLike) else "data",
        "modality": "text"
        if isinstance(getattr(model, "preprocessor", None), TextPreprocessor)
        else "images",
        "num_classes": data["num_classes"],
        "label_names": data["label_names"],
        "epochs": settings.epochs,
        "batch_size": settings.batch_size,
        "learning_rate": settings.learning_rate,
        "weight_decay": settings.weight_decay,
        "dropout": settings.dropout,
        "head_l2": settings.head_l2,
        "freeze": settings.freeze,
        "probe_epochs": settings.probe_epochs,
        "warmup_fraction": settings.warmup_fraction,
        "validation_split": settings.validation_split,
        "early_stopping_patience": settings.early_stopping_patience,
        "class_weight": class_weight
        if not isinstance(class_weight, dict)
        else {str(c): w for c, w in class_weight.items()},
        "train_size": train_size,
        "test_size": test_size,
        "seed": settings.seed,
    }


def _write_metrics(run_dir, log_dir, result, history, checkpoint):
    """Writes `metrics.json` (the run is finished) and the test accuracy
    scalar; deletes the checkpoint. Returns the metrics."""
    metrics = {
        "accuracy": result["accuracy"],
        "val_accuracy": result["val_accuracy"],
        "val_loss": result["val_loss"],
        "loss": float(history["loss"][-1]),
        "train_accuracy": float(history["accuracy"][-1]),
        "epochs_run": len(history["loss"]),
        "best_epoch": result["best_epoch"],
        "num_train": result["num_train"],
        "num_val": result["num_val"],
        "num_test": result["num_test"],
        "class_weight": None
        if result["class_weight"] is None
        else {str(c): w for c, w in result["class_weight"].items()},
        "seconds": checkpoint.seconds,
        "resumed_from_epoch": checkpoint.resumed_from_epoch,
    }
    write_json(os.path.join(run_dir, "metrics.json"), metrics)
    checkpoint.delete()
    writer = tf.summary.create_file_writer(os.path.join(log_dir, "evaluation"))
    with writer.as_default():
        tf.summary.scalar("test_accuracy", result["accuracy"], step=0)
    writer.flush()
    return metrics
