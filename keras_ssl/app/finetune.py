"""Fine-tuning workflow: SSL model + labelled data → `classifier.keras`."""

import os
import re

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.app.evaluate import load_ssl_model
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
from keras_ssl.callbacks.gradual_unfreezing import encoder_blocks
from keras_ssl.callbacks.run_checkpoint import RunCheckpoint
from keras_ssl.datasets import LabeledData, load
from keras_ssl.evaluation import TaskClassifier, fine_tune
from keras_ssl.tokenizers import TextPreprocessor, check_texts

# Datasets with a fixed train/test split; other data is split here.
_SPLIT_DATASETS = ("fashion_mnist", "wordnet", "wordnet_nouns")
_TOP_K = re.compile(r"top-(\d+)")


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
    if not isinstance(data, LabeledData):
        raise ValueError(
            "Argument `dataset` must be a dataset name, a path, a LabeledData "
            "or a (train, test) pair of them. Received: "
            f"dataset={dataset!r} giving {type(data).__name__}"
        )
    if data.y is None:
        raise ValueError(
            "Fine-tuning needs labelled data. Received: dataset="
            f"{dataset!r} ({split}) without labels; use a dataset with labels "
            "(fashion_mnist, wordnet_nouns, an image folder with one subfolder "
            "per class, a CSV with a label column)."
        )
    if len(data) == 0:
        raise ValueError(f"The dataset is empty. Received: dataset={dataset!r}")
    return data


def load_labelled(dataset, test_fraction=0.2, seed=0):
    """Returns `(train, test)` `LabeledData` for a name, a path or a pair.

    Named datasets use their own train/test split; a folder or a file is
    split here (stratified, `test_fraction` held out).
    """
    if isinstance(dataset, tuple | list) and len(dataset) == 2:
        return (
            _labelled(dataset[0], dataset, "train"),
            _labelled(dataset[1], dataset, "test"),
        )
    if isinstance(dataset, str) and dataset in _SPLIT_DATASETS:
        return (
            _labelled(load(dataset, split="train"), dataset, "train"),
            _labelled(load(dataset, split="test"), dataset, "test"),
        )
    data = load(dataset) if isinstance(dataset, str | os.PathLike) else dataset
    data = _labelled(data, dataset, "all")
    return data.split(test_fraction=test_fraction, seed=seed, stratify=True)


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


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(
            f"Argument `{name}` must be a positive int. Received: {name}={value!r}"
        )


def finetune(
    model,
    dataset=None,
    output_dir="runs",
    epochs=5,
    batch_size=None,
    learning_rate=None,
    weight_decay=0.01,
    dropout=0.1,
    head_l2=0.0,
    freeze="all",
    probe_epochs=0,
    warmup_fraction=0.1,
    validation_split=0.1,
    early_stopping_patience=None,
    class_weight=None,
    train_size=None,
    test_size=None,
    seed=0,
    verbose="auto",
    resume=False,
    callbacks=None,
):
    """Fine-tunes a pretrained SSL encoder on a labelled task; saves the classifier.

    The encoder of `model` gets a linear head (batch norm, dropout, `Dense`)
    and is fine-tuned with `keras_ssl.evaluation.fine_tune`: AdamW with
    decoupled weight decay, linear warm-up then cosine decay, the chosen
    freeze strategy, optional L2 on the head and class weights, and early
    stopping on a validation split with the best weights restored.

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
            (image folder, CSV with a label column: 20% held out for the
            test, stratified), a `LabeledData`, or a `(train, test)` pair.
            Defaults to `"fashion_mnist"` / `"wordnet_nouns"`.
        output_dir: parent folder of the run directory.
        epochs: maximum passes over the training data.
        batch_size: defaults to 128 (images) / 64 (text).
        learning_rate: peak learning rate; defaults to 1e-3 (images) / 3e-3
            (text), the settings of the evaluation protocols.
        weight_decay: AdamW (decoupled) weight decay.
        dropout: dropout before the head.
        head_l2: L2 penalty on the head's kernel.
        freeze: `"all"` (fine-tune the whole encoder), `"head"` (train the
            head only), `"top-K"` (the top `K` encoder blocks, e.g.
            `"top-2"`) or `"gradual"` (head first, then one more block from
            the top each epoch).
        probe_epochs: epochs of head-only training first (LP-FT).
        warmup_fraction: fraction of the steps of linear warm-up.
        validation_split: fraction of the training data held out
            (stratified) for validation; `None` or `0` for none.
        early_stopping_patience: stop after this many epochs without a lower
            validation loss and restore the best weights; `None` trains all
            `epochs`.
        class_weight: `None`, `"balanced"` or a dict `{class id: weight}`.
        train_size, test_size: optional random subsets (quick runs).
        seed: random seed (head, data order, splits).
        verbose: Keras verbosity.
        resume: `False` (new run), `True` (latest unfinished fine-tuning run
            under `output_dir`) or the path of a run directory.
        callbacks: extra Keras callbacks for the fine-tuning `fit`.

    Returns:
        dict with `run_dir`, `model` (the `TaskClassifier`), `model_path`,
        `log_dir`, `history`, and the metrics written to `metrics.json`
        (`accuracy` on the test split, `val_accuracy`, `val_loss`,
        `epochs_run`, `best_epoch`, `seconds`, `resumed_from_epoch` (`None`
        for a new run), ...); `history` holds every epoch, those before a
        resume included.

    Example:

    >>> result = finetune("runs/simclr-<stamp>/model.keras", "fashion_mnist",
    ...                   freeze="gradual", early_stopping_patience=2)
    >>> result["accuracy"]  # doctest: +SKIP
    """
    _positive_int("epochs", epochs)
    if batch_size is not None:
        _positive_int("batch_size", batch_size)
    if learning_rate is not None and not (
        isinstance(learning_rate, int | float)
        and not isinstance(learning_rate, bool)
        and learning_rate > 0
    ):
        raise ValueError(
            "Argument `learning_rate` must be > 0. "
            f"Received: learning_rate={learning_rate!r}"
        )
    freeze_kwargs = parse_freeze(freeze)
    if validation_split == 0:
        validation_split = None
    if early_stopping_patience is not None and validation_split is None:
        raise ValueError(
            "Early stopping needs a validation split. Received: "
            f"early_stopping_patience={early_stopping_patience} with "
            "validation_split=None"
        )
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
    num_blocks = len(encoder_blocks(model.encoder))
    k = freeze_kwargs.get("trainable_layers")
    if k is not None and k > num_blocks:
        raise ValueError(
            f"Argument `freeze` asks for more blocks than the encoder has "
            f"({num_blocks}). Received: freeze={freeze!r}"
        )
    if dataset is None:
        dataset = "wordnet_nouns" if is_text else "fashion_mnist"
    train, test = load_labelled(dataset, seed=seed)
    if train_size is not None:
        train = train.subset(min(train_size, len(train)), seed=seed)
    if test_size is not None:
        test = test.subset(min(test_size, len(test)), seed=seed)
    x_train = _prepare(model, train, "training")
    x_test = _prepare(model, test, "test")
    batch_size = batch_size or (64 if is_text else 128)
    learning_rate = learning_rate or (3e-3 if is_text else 1e-3)
    num_classes, label_names = class_labels(train, test)
    if num_classes < 2:
        raise ValueError(
            "Fine-tuning needs at least 2 classes. Received: labels of "
            f"{num_classes} class in dataset={dataset!r}"
        )

    if resume_dir is None:
        run_dir = make_run_directory(output_dir, "finetune")
    else:
        run_dir = resume_dir
        clean_run_directory(run_dir)
    log_dir = os.path.join(run_dir, "logs")
    config = {
        "model": source or model.name,
        "model_class": type(model).__name__,
        "dataset": str(dataset) if isinstance(dataset, str | os.PathLike) else "data",
        "modality": "text" if is_text else "images",
        "num_classes": num_classes,
        "label_names": label_names,
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "weight_decay": weight_decay,
        "dropout": dropout,
        "head_l2": head_l2,
        "freeze": freeze,
        "probe_epochs": probe_epochs,
        "warmup_fraction": warmup_fraction,
        "validation_split": validation_split,
        "early_stopping_patience": early_stopping_patience,
        "class_weight": class_weight
        if not isinstance(class_weight, dict)
        else {str(c): w for c, w in class_weight.items()},
        "train_size": train_size,
        "test_size": test_size,
        "seed": seed,
    }
    if resume_dir is None:
        write_json(os.path.join(run_dir, "config.json"), config)
    else:
        # An in-memory model's name is not its identity: only a path is.
        check_same_config(run_dir, config, ignore=() if source else ("model",))
    # Restores itself when `fit` begins (the classifier is built inside
    # `fine_tune`) and continues with the next epoch.
    checkpoint = RunCheckpoint(checkpoint_directory(run_dir), save_freq="epoch")
    num_fit = len(x_train)
    if validation_split is not None and 0 < validation_split < 1:
        num_fit -= min(max(round(num_fit * validation_split), 1), num_fit - 1)
    result = fine_tune(
        model.encoder,
        x_train,
        train.y,
        x_test,
        test.y,
        epochs=epochs,
        batch_size=max(1, min(batch_size, num_fit)),
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        warmup_fraction=warmup_fraction,
        dropout=dropout,
        head_l2=head_l2,
        probe_epochs=probe_epochs,
        validation_split=validation_split,
        early_stopping_patience=early_stopping_patience,
        class_weight=class_weight,
        num_classes=num_classes,
        callbacks=[
            checkpoint,
            keras.callbacks.TensorBoard(log_dir),
            *(callbacks or []),
        ],
        verbose=verbose,
        seed=seed,
        **freeze_kwargs,
    )
    classifier = TaskClassifier(
        result["model"],
        preprocessor=model.preprocessor if is_text else None,
        label_names=label_names,
        name="task_classifier",
    )
    model_path = save_model(classifier, os.path.join(run_dir, "classifier.keras"))
    # Every epoch of the run, those before a resume included.
    history = checkpoint.history or result["history"]
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
    return {
        "run_dir": run_dir,
        "model": classifier,
        "model_path": model_path,
        "log_dir": log_dir,
        "history": history,
        **metrics,
    }
