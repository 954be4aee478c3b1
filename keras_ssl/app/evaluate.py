"""Evaluation workflows: SSL encoder vs random-init twin vs raw-input baseline."""

import os
import zipfile

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.app.pretrain import tokenize
from keras_ssl.checks import check_seed
from keras_ssl.compat import safe_mode_scope, seed_scope
from keras_ssl.datasets import LabeledData, load
from keras_ssl.evaluation import (
    embed,
    fine_tune,
    knn_evaluate,
    linear_probe,
    pixel_logistic_regression,
    tfidf_logistic_regression,
)
from keras_ssl.export._checks import check_writable_dir
from keras_ssl.models import SSLModel


def load_keras_file(path, expected="a .keras file"):
    """Loads a `.keras` file with Keras safe mode on; clear errors otherwise.

    Safe mode stays on even if `keras.config.enable_unsafe_deserialization()`
    was called elsewhere in the process: a file that would run Python code
    on load (a `Lambda` layer holding a Python function) is refused with a
    `ValueError`, and nothing in it runs. Load a file you trust yourself
    with `keras.saving.load_model(path, safe_mode=False)` if you must.

    Args:
        path: path of the `.keras` file.
        expected: what the file should be, for error messages.

    Returns:
        The loaded Keras object.
    """
    path = os.fspath(path)
    if not os.path.isfile(path) or not path.endswith(".keras"):
        raise ValueError(
            f"Argument `model` must be a path to {expected}. "
            f"Received: model={path!r}"
            + ("" if os.path.exists(path) else " (no such file)")
        )
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"Argument `model` must be a valid .keras file (a zip archive "
            f"written by `model.save`). Received: model={path!r}, which is "
            "not a zip archive (corrupt or truncated?)"
        )
    try:
        with safe_mode_scope(True):
            return keras.saving.load_model(path, safe_mode=True)
    except Exception as e:
        reason = str(e).strip().split("\n")[0]
        if "safe_mode" in str(e) or "unsafe" in str(e):
            raise ValueError(
                f"Refusing to load {path!r}: it holds Python code that would "
                "run on load (e.g. a `Lambda` layer), and keras_ssl keeps Keras "
                "safe mode on. Expected a model saved by keras_ssl. If you "
                "trust the file, load it yourself with "
                "`keras.saving.load_model(path, safe_mode=False)`."
            ) from None
        raise ValueError(
            f"Could not load the .keras file {path!r} "
            f"({type(e).__name__}: {reason[:300]})"
        ) from e


def load_ssl_model(model):
    """Returns an SSL model from a model object or a `.keras` path.

    Files are loaded with Keras safe mode on (see `load_keras_file`).
    """
    if isinstance(model, str | os.PathLike):
        model = load_keras_file(model, "a .keras file written by `keras-ssl pretrain`")
    if not isinstance(model, SSLModel):
        raise ValueError(
            "Argument `model` must be a keras_ssl SSLModel (SimCLR, BYOL, "
            "MaskedLanguageModel, ...). "
            f"Received: {type(model).__name__}"
        )
    return model


def random_init_twin(encoder, seed=0):
    """The same architecture as `encoder`, freshly initialised.

    The initialisation is seeded by `seed + 1` (in
    `keras_ssl.compat.seed_scope`, so the caller's global random state is
    left as it was).
    """
    with seed_scope(seed + 1):
        return keras.models.clone_model(encoder)


_SPLIT_DATASETS = ("fashion_mnist", "wordnet", "wordnet_nouns")


def _train_test(dataset, seed):
    """`(train, test)` `LabeledData` for a name, a path or a `(train, test)` pair.

    Named datasets use their own splits; a folder or a file is split here
    (stratified, 20% held out as the test split).
    """
    if isinstance(dataset, tuple | list) and len(dataset) == 2:
        parts = tuple(dataset)
    elif isinstance(dataset, str) and dataset in _SPLIT_DATASETS:
        parts = (load(dataset, split="train"), load(dataset, split="test"))
    elif isinstance(dataset, str | os.PathLike):
        data = load(dataset)
        if not isinstance(data, LabeledData) or data.y is None:
            raise ValueError(
                "Evaluation needs labelled data. Received: "
                f"dataset={os.fspath(dataset)!r} without labels. Expected a "
                "folder with one subfolder per class, or a CSV with a label "
                "column."
            )
        parts = data.split(test_fraction=0.2, seed=seed, stratify=True)
    else:
        raise ValueError(
            "Argument `dataset` must be a dataset name, a path or a "
            f"(train, test) pair of LabeledData. Received: dataset={dataset!r}"
        )
    for part, name in zip(parts, ("train", "test")):
        if not isinstance(part, LabeledData) or part.y is None:
            raise ValueError(
                f"Evaluation needs labelled data. Received: a {name} split of "
                f"type {type(part).__name__}"
                + (" without labels" if isinstance(part, LabeledData) else "")
                + ". Expected a LabeledData with labels."
            )
    return parts


def _check_images(encoder, data, dataset):
    expected = tuple(encoder.input_shape[1:])
    if data.x.dtype == object or tuple(data.x.shape[1:]) != expected:
        hint = ""
        if data.x.ndim == 4 and tuple(data.x.shape[1:3]) == expected[:2]:
            hint = (
                " The channels differ (greyscale has 1, RGB 3): load the images "
                "with the color mode the encoder was trained on (e.g. "
                "`load_image_folder(path, color_mode='grayscale')`)."
            )
        raise ValueError(
            "The images must match the encoder's input shape "
            f"{expected}. Received: dataset={_describe(dataset)!r} with "
            f"x.shape={data.x.shape}, dtype={data.x.dtype}.{hint}"
        )


def _describe(dataset):
    if isinstance(dataset, tuple | list):
        return " / ".join(_describe(part) for part in dataset)
    if isinstance(dataset, LabeledData):
        return dataset.name
    return os.fspath(dataset) if isinstance(dataset, os.PathLike) else str(dataset)


def _check_log_dir(log_dir):
    if log_dir:
        check_writable_dir(log_dir, "log_dir")


def _write_scalars(log_dir, scalars):
    if not log_dir:
        return
    writer = tf.summary.create_file_writer(os.path.join(log_dir, "evaluation"))
    with writer.as_default():
        for name, value in scalars.items():
            tf.summary.scalar(name, value, step=0)
    writer.flush()


def evaluate_images(
    model,
    dataset="fashion_mnist",
    probe_train_size=10000,
    knn_k=(20, 200),
    log_dir=None,
    seed=0,
    verbose=0,
):
    """Linear probe and kNN of an image SSL encoder, with both baselines.

    Protocols: the linear probe is a standardized logistic
    regression on frozen embeddings of `probe_train_size` training images,
    scored on the whole test split; kNN uses the whole training split as the
    bank (cosine, temperature-weighted votes). The same protocols run on a
    randomly initialised encoder of the same architecture and on raw pixels.

    Returns:
        A list of result rows (dicts with `task`, `protocol`, `ssl`,
        `random_init`, `raw_input`).
    """
    check_seed("seed", seed)
    model = load_ssl_model(model)
    _check_log_dir(log_dir)
    train, test = _train_test(dataset, seed)
    for part in (train, test):
        _check_images(model.encoder, part, dataset)
    sub = train.subset(min(probe_train_size, len(train)), seed=seed)
    encoders = {
        "ssl": model.encoder,
        "random_init": random_init_twin(model.encoder, seed),
    }

    def scaled(x):
        return x.astype("float32") / 255.0

    probe, knn = {}, {}
    x_test = scaled(test.x)
    for name, encoder in encoders.items():
        f_bank = embed(encoder, scaled(train.x), verbose=verbose)
        f_test = embed(encoder, x_test, verbose=verbose)
        f_sub = embed(encoder, scaled(sub.x), verbose=verbose)
        probe[name] = linear_probe(
            None, None, sub.y, None, test.y, features=(f_sub, f_test)
        )["accuracy"]
        knn[name] = knn_evaluate(
            None, None, train.y, None, test.y, k=knn_k, features=(f_bank, f_test)
        )
    probe["raw_input"] = pixel_logistic_regression(sub.x, sub.y, test.x, test.y)[
        "accuracy"
    ]
    flat = (
        train.x.reshape(len(train), -1).astype("float32"),
        test.x.reshape(len(test), -1).astype("float32"),
    )
    knn["raw_input"] = knn_evaluate(
        None, None, train.y, None, test.y, k=knn_k, features=flat
    )
    rows = [{"task": _describe(dataset), "protocol": "linear probe", **probe}]
    for k in knn_k:
        key = f"knn_accuracy@{k}"
        rows.append(
            {
                "task": _describe(dataset),
                "protocol": f"kNN k={k}",
                **{name: result[key] for name, result in knn.items()},
            }
        )
    _write_scalars(
        log_dir,
        {
            "probe_accuracy": probe["ssl"],
            "probe_accuracy_random_init": probe["random_init"],
            "knn_accuracy": knn["ssl"]["accuracy"],
            "knn_accuracy_random_init": knn["random_init"]["accuracy"],
        },
    )
    return rows


def labelled_fraction(data, fraction, seed=0):
    """A stratified `fraction` of `data` (all of it for `fraction == 1`)."""
    if isinstance(fraction, bool) or not (
        isinstance(fraction, int | float) and 0 < fraction <= 1
    ):
        raise ValueError(
            "Label fractions must be numbers in (0, 1]. "
            f"Received: fraction={fraction!r}"
        )
    if fraction == 1:
        return data
    return data.split(test_fraction=fraction, seed=seed, stratify=True)[1]


def fine_tune_images(
    model,
    dataset="fashion_mnist",
    fractions=(0.01, 0.1, 1.0),
    epochs=3,
    batch_size=128,
    learning_rate=1e-3,
    log_dir=None,
    seed=0,
    verbose=0,
):
    """Fine-tunes an image SSL encoder on label fractions, with both baselines.

    For each fraction, a stratified subset of the labelled training split
    fine-tunes (linear head, AdamW, warm-up + cosine) the SSL encoder and,
    separately, a random-init twin; the raw-input baseline is pixel logistic
    regression on the same subset. All are scored on the whole test split.

    Returns:
        One result row per fraction.
    """
    check_seed("seed", seed)
    model = load_ssl_model(model)
    _check_log_dir(log_dir)
    train, test = _train_test(dataset, seed)
    for part in (train, test):
        _check_images(model.encoder, part, dataset)
    x_test = test.x.astype("float32") / 255.0
    twin = random_init_twin(model.encoder, seed)
    rows = []
    for fraction in fractions:
        part = labelled_fraction(train, fraction, seed)
        x_part = part.x.astype("float32") / 255.0
        row = {
            "task": _describe(dataset),
            "protocol": f"fine-tune {fraction:.0%} labels ({len(part)})",
        }
        for name, encoder in (("ssl", model.encoder), ("random_init", twin)):
            row[name] = fine_tune(
                encoder,
                x_part,
                part.y,
                x_test,
                test.y,
                epochs=epochs,
                batch_size=min(batch_size, len(part)),
                learning_rate=learning_rate,
                verbose=verbose,
                seed=seed,
            )["accuracy"]
        row["raw_input"] = pixel_logistic_regression(part.x, part.y, test.x, test.y)[
            "accuracy"
        ]
        rows.append(row)
    _write_scalars(
        log_dir,
        {f"fine_tune_accuracy_{r['protocol'].split()[1]}": r["ssl"] for r in rows},
    )
    return rows


def evaluate_text(
    model,
    dataset="wordnet_nouns",
    train_size=8000,
    test_size=5000,
    epochs=4,
    batch_size=64,
    learning_rate=3e-3,
    probe_epochs=1,
    log_dir=None,
    seed=0,
    verbose=0,
):
    """Fine-tunes a text SSL encoder on a labelled task, with both baselines.

    The encoder (and, separately, a random-init twin of the same
    architecture) gets a linear head, trained alone for `probe_epochs` on the
    frozen encoder, then fine-tuned end to end with AdamW for `epochs`
    (LP-FT) on `train_size` examples of the training split; accuracy on
    `test_size` examples of the test split. The defaults were chosen on this
    task so the random-init twin gets its best result among the settings
    tried (see the README), so the comparison does not favour pretraining.
    The raw-input baseline is TF-IDF logistic regression on the same texts.

    Returns:
        A list with one result row.
    """
    check_seed("seed", seed)
    model = load_ssl_model(model)
    _check_log_dir(log_dir)
    train, test = _train_test(dataset, seed)
    for part in (train, test):
        if part.x.dtype != object:
            raise ValueError(
                "A text model needs texts. Received: "
                f"dataset={_describe(dataset)!r} with x.dtype={part.x.dtype}"
            )
    train = train.subset(min(train_size, len(train)), seed=seed)
    test = test.subset(min(test_size, len(test)), seed=seed)
    x_train = tokenize(model.preprocessor, train.x)
    x_test = tokenize(model.preprocessor, test.x)
    row = {
        "task": _describe(dataset),
        "protocol": f"fine-tune {epochs} ep ({len(train)})",
    }
    for name, encoder in (
        ("ssl", model.encoder),
        ("random_init", random_init_twin(model.encoder, seed)),
    ):
        row[name] = fine_tune(
            encoder,
            x_train,
            train.y,
            x_test,
            test.y,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            probe_epochs=probe_epochs,
            verbose=verbose,
            seed=seed,
        )["accuracy"]
    row["raw_input"] = tfidf_logistic_regression(train.x, train.y, test.x, test.y)[
        "accuracy"
    ]
    _write_scalars(
        log_dir,
        {
            "fine_tune_accuracy": row["ssl"],
            "fine_tune_accuracy_random_init": row["random_init"],
        },
    )
    return [row]


def summarize_gap(rows):
    """Number of rows where the SSL encoder beats its random-init twin."""
    return int(np.sum([r["ssl"] > r["random_init"] for r in rows]))
