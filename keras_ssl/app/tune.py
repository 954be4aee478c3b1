"""Tuning workflow: keras-tuner search over fine-tuning hyperparameters."""

import difflib
import hashlib
import inspect
import json
import os
import time
import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.app._search_run import (
    describe,
    quiet_search,
    start_search,
    write_search_results,
)
from keras_ssl.app.evaluate import as_streams, load_ssl_model
from keras_ssl.app.finetune import (
    class_labels,
    load_labelled,
    prepare_stream,
    stream_class_labels,
)
from keras_ssl.app.pretrain import tokenize
from keras_ssl.app.run_directory import write_json, write_lines
from keras_ssl.checks import check_fraction, check_positive_int, check_seed
from keras_ssl.datasets import LabeledData, StreamedData
from keras_ssl.evaluation import TaskClassifier
from keras_ssl.evaluation.embed import stream_batches, subset_stream
from keras_ssl.export import export_classifier, versioned_export
from keras_ssl.export._checks import check_path_name, check_writable_dir
from keras_ssl.tokenizers import TextPreprocessor

#: The training examples a search on a streamed training split samples into
#: memory when `train_size` is not given (trials fit arrays).
STREAM_TRAIN_SAMPLE = 10_000


def _prepare(model, data, is_text, name):
    """Model inputs for `data`: token ids for text, floats in [0, 1] for images."""
    x = data.x
    if is_text:
        if x.dtype != object:
            raise ValueError(
                f"A text model needs texts. Received: {name} with x.dtype={x.dtype}"
            )
        return tokenize(model.preprocessor, x)
    expected = tuple(model.encoder.input_shape[1:])
    if x.dtype == object or tuple(x.shape[1:]) != expected:
        raise ValueError(
            f"The images must match the encoder's input shape {expected}. "
            f"Received: {name} with x.shape={x.shape}, dtype={x.dtype}"
        )
    return x.astype("float32") / 255.0


def _fingerprint(encoder, train, settings):
    """A short hash of what makes two searches the same search."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for weights in encoder.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    if train.x.dtype == object:
        digest.update("\n".join(map(str, train.x)).encode())
    else:
        digest.update(np.ascontiguousarray(train.x).tobytes())
    digest.update(np.ascontiguousarray(train.y).tobytes())
    return digest.hexdigest()[:12]


def tune(
    model,
    dataset=None,
    tuner="random",
    max_trials=10,
    epochs=3,
    output_dir="runs",
    validation_split=0.2,
    seed=0,
    export_dir=None,
    export_name="tuned_classifier",
    train_size=None,
    test_size=None,
    search_space=None,
    project_name=None,
    overwrite=False,
    verbose=1,
    stream="auto",
):
    """Searches fine-tuning hyperparameters, then retrains and saves the best.

    A keras-tuner search (`keras_ssl.tuning.FineTuneHyperModel`: learning
    rate, weight decay, dropout, trainable layers, head width, batch size)
    fine-tunes copies of the SSL model's encoder on the training split minus
    a stratified validation part, maximising `val_accuracy`. The best
    hyperparameters are then retrained on the whole training split and
    scored on the test split.

    The search is resumable: its keras-tuner project lives in
    `output_dir/tune-projects/<tuner>-<fingerprint>/`, the fingerprint
    covering the encoder's weights, the training data and the settings that
    change what a trial means (`epochs`, `validation_split`, `seed`,
    `train_size`, `search_space`) but not `max_trials`. Running `tune` again
    with the same arguments continues where it stopped (finished trials are
    not repeated; a larger `max_trials` adds trials). A trial that raises is
    recorded as failed and the search goes on.

    Each call writes a run directory `output_dir/tune-<timestamp>/` with
    `best_hyperparameters.json` (the values, which
    `FineTuneHyperModel(encoder, num_classes, **values)` accepts to fix the
    space at the best point), `results.md` (every trial, best first),
    `tune.json` (settings and results) and `classifier.keras` (the
    retrained classifier as a `TaskClassifier`, like `keras-ssl finetune`
    writes: raw inputs in, class logits out; `keras-ssl export --model
    .../classifier.keras` exports it).

    Args:
        model: SSL model or path to its `.keras` file.
        dataset: labelled data: `"fashion_mnist"`, `"wordnet_nouns"`,
            `"wordnet"` (their train/test splits), a path (an image folder, a
            `.csv`, a folder of TFRecord shards; 20% held out as test), a
            `LabeledData`, a `StreamedData` or a `tf.data.Dataset` of
            `(x, y)` (likewise) or a `(train, test)` pair of them; defaults
            to Fashion-MNIST for image models and WordNet noun glosses for
            text models. Trials fit arrays: of a streamed training split, a
            seeded sample of `train_size` (default `STREAM_TRAIN_SAMPLE`)
            examples is read into memory (`StreamedData.sample`); a
            streamed test split stays a stream, read batch by batch.
        tuner: `"random"`, `"hyperband"` or `"bayesian"`.
        max_trials: trial budget (also for Hyperband).
        epochs: epochs per trial (Hyperband's largest number of epochs).
        output_dir: parent folder of the run directory and the projects.
        validation_split: fraction of the training split used to score
            trials.
        seed: seed of the splits, the search and the training.
        export_dir: optional TF Serving base folder: the retrained
            classifier is exported (`keras_ssl.export.export_classifier`:
            probabilities and label) to `export_dir/export_name/<next
            version>/`.
        export_name: the export's model name.
        train_size: optional number of training examples to use (a random
            subset), to keep each trial short.
        test_size: optional number of test examples.
        search_space: optional dict of `FineTuneHyperModel` arguments that
            narrow or fix the space, e.g. `{"dropout": 0.1,
            "batch_size": [64, 128]}`.
        project_name: optional explicit keras-tuner project name (under
            `output_dir/tune-projects/`) instead of the fingerprint; one
            folder name (letters, digits, `_.-`, no separators or `..`).
        overwrite: delete the project's earlier trials and start afresh.
        verbose: 0 silent, 1 one line per trial, 2 also Keras progress bars.
        stream: how a path is read (`keras_ssl.datasets.load_or_stream`):
            `"auto"`, `True` or `False`.

    Returns:
        dict with `run_dir`, `project_dir`, `best_hyperparameters`,
        `best_trial`, `val_accuracy`, `test_accuracy`, `classifier_path`,
        `model` (the retrained classifier as a `TaskClassifier`: raw
        inputs, class names), `trials` (best first),
        `num_trials`, `num_failed`, `seconds` and, with `export_dir`,
        `export_path`.

    Example:

    ```python
    result = tune("runs/simclr-.../model.keras", "fashion_mnist",
                  tuner="bayesian", max_trials=20, train_size=10000)
    result["best_hyperparameters"], result["test_accuracy"]
    ```
    """
    from keras_ssl.tuning import FineTuneHyperModel

    search_space = _check_arguments(
        tuner=tuner,
        seed=seed,
        max_trials=max_trials,
        epochs=epochs,
        train_size=train_size,
        test_size=test_size,
        validation_split=validation_split,
        search_space=search_space,
        export_dir=export_dir,
        export_name=export_name,
        project_name=project_name,
        output_dir=output_dir,
    )
    say = print if verbose else (lambda *a, **k: None)
    start = time.monotonic()
    model_name, model, is_text, dataset = _load_model(model, dataset)
    data = _tune_data(
        model, dataset, is_text, seed, (train_size, test_size), validation_split, stream
    )
    hypermodel = FineTuneHyperModel(
        model.encoder, data["num_classes"], seed=seed, **search_space
    )
    settings = {
        "epochs": epochs,
        "validation_split": float(validation_split),
        "seed": seed,
        "train_size": train_size,
        "num_classes": data["num_classes"],
        "search_space": {k: repr(v) for k, v in search_space.items()},
    }
    project_name = project_name or (
        f"{tuner}-{_fingerprint(model.encoder, data['train'], settings)}"
    )
    search = dict(tuner=tuner, max_trials=max_trials, epochs=epochs, seed=seed)
    search.update(overwrite=overwrite, keras_verbose=1 if verbose >= 2 else 0)
    results, project_dir, run_dir = _search(
        hypermodel, data, output_dir, project_name, search, model_name, dataset, say
    )
    retrained = _retrain(
        hypermodel, results["best"], data, model, is_text, epochs, search, say
    )
    result = _write_run(
        run_dir, project_dir, results, retrained, data, (export_dir, export_name), say
    )
    result["seconds"] = time.monotonic() - start
    write_json(
        os.path.join(run_dir, "tune.json"),
        {
            **result,
            "tuner": tuner,
            "dataset": describe(dataset),
            "max_trials": max_trials,
            **data["counts"],
            "retrain_epochs": retrained[2],
            **settings,
        },
    )
    return {**result, "model": retrained[0], "trials": results["rows"]}


def _write_run(run_dir, project_dir, results, retrained, data, export, say):
    """Saves the retrained classifier, completes `results.md` and exports
    (`export`: `(export_dir, export_name)`). Returns `tune`'s result but
    `seconds`."""
    task, test_accuracy, retrain_epochs = retrained
    best = results["best"]
    classifier_path = os.path.join(run_dir, "classifier.keras")
    task.save(classifier_path)
    lines = results["lines"] + [
        "",
        f"Best trial {best.trial_id} retrained on the whole training split "
        f"({len(data['y_train'])} examples, {retrain_epochs} epoch(s)): test "
        f"accuracy {test_accuracy:.4f} on {data['counts']['num_test']} examples.",
    ]
    write_lines(results["results_path"], lines)
    say(f"Test accuracy: {test_accuracy:.4f}")
    result = {
        "run_dir": run_dir,
        "project_dir": project_dir,
        "best_hyperparameters": results["best_values"],
        "best_trial": best.trial_id,
        "val_accuracy": float(best.score),
        "test_accuracy": test_accuracy,
        "classifier_path": classifier_path,
        "num_trials": len(results["rows"]),
        "num_failed": results["num_failed"],
        "seconds": None,
    }
    export_dir, export_name = export
    if export_dir is not None:
        result["export_path"] = versioned_export(
            export_classifier, export_dir, export_name, "auto", classifier=task
        )
        say(f"Exported: {result['export_path']}")
    else:
        say(f"Export: keras-ssl export --model {classifier_path} --name <name>")
    return result


def _load_model(model, dataset):
    """`(name, SSL model, is_text, dataset)`: the dataset defaults by modality."""
    model_name = (
        os.fspath(model)
        if isinstance(model, str | os.PathLike)
        else getattr(model, "name", type(model).__name__)
    )
    model = load_ssl_model(model)
    is_text = isinstance(getattr(model, "preprocessor", None), TextPreprocessor)
    if dataset is None:
        dataset = "wordnet_nouns" if is_text else "fashion_mnist"
    return model_name, model, is_text, dataset


def _check_arguments(**args):
    """Checks `tune`'s arguments before any work; returns the search space
    as a dict."""
    from keras_ssl.tuning import FineTuneHyperModel, check_tuner_name

    check_tuner_name(args["tuner"])
    check_seed("seed", args["seed"])
    check_positive_int("max_trials", args["max_trials"])
    check_positive_int("epochs", args["epochs"])
    check_positive_int("train_size", args["train_size"], allow_none=True)
    check_positive_int("test_size", args["test_size"], allow_none=True)
    check_fraction(
        "validation_split", args["validation_split"], low_open=True, high_open=True
    )
    search_space = args["search_space"]
    if search_space is not None and not isinstance(search_space, dict):
        raise ValueError(
            "Argument `search_space` must be a dict of FineTuneHyperModel "
            f"arguments. Received: search_space={search_space!r}"
        )
    search_space = dict(search_space or {})
    allowed = [
        name
        for name in inspect.signature(FineTuneHyperModel).parameters
        if name not in ("encoder", "num_classes", "seed", "name", "tunable", "settings")
    ]
    unknown = sorted(map(str, set(search_space) - set(allowed)))
    if unknown:
        close = difflib.get_close_matches(unknown[0], allowed, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"Unknown `search_space` keys {unknown}. Expected some of {allowed}.{hint}"
        )
    if args["export_dir"] is not None:
        # Checked before the search, which an invalid name would waste.
        check_path_name(args["export_name"], "export_name")
        check_writable_dir(args["export_dir"], "export_dir")
    if args["project_name"] is not None:
        check_path_name(args["project_name"], "project_name")
    check_writable_dir(args["output_dir"], "output_dir")
    return search_space


def _tune_data(model, dataset, is_text, seed, sizes, validation_split, stream):
    """The splits, the model inputs and the search / validation indices
    (`sizes`: `(train_size, test_size)`)."""
    train_size, test_size = sizes
    train, test = load_labelled(dataset, seed=seed, stream=stream)
    streams = as_streams(train, test)
    if streams is not None:
        train, test = _sample_streams(model, streams, sizes, seed)
        num_classes, label_names = stream_class_labels(*streams)
    else:
        if train_size is not None and train_size < len(train):
            train = train.subset(train_size, seed=seed)
        if test_size is not None and test_size < len(test):
            test = test.subset(test_size, seed=seed)
        num_classes, label_names = class_labels(train, test)
    if num_classes < 2:
        raise ValueError(
            "Tuning a classifier needs at least 2 classes. Received: labels of "
            f"{num_classes} class in dataset={describe(dataset)!r}"
        )
    # Indices of the stratified validation part of the training split.
    index = LabeledData(np.arange(len(train)), train.y)
    search_idx, val_idx = (
        part.x for part in index.split(validation_split, seed=seed, stratify=True)
    )
    return {
        "train": train,
        "num_classes": num_classes,
        "label_names": label_names,
        "search_idx": search_idx,
        "val_idx": val_idx,
        "x_train": _prepare(model, train, is_text, "the training split"),
        "y_train": train.y.astype("int64"),
        **_test_inputs(model, test, is_text),
        "counts": {"num_train": len(train), "num_test": _count(test)},
    }


def _count(data):
    """The number of examples (`None` for a stream of unknown length)."""
    return data.num_examples if isinstance(data, StreamedData) else len(data)


def _sample_streams(model, streams, sizes, seed):
    """The streamed training split sampled into memory (trials fit
    arrays); the test split stays a stream (a `subset_stream` view with
    `test_size`)."""
    train, test = streams
    prepare_stream(model, train, "training")
    prepare_stream(model, test, "test")
    train_size, test_size = sizes
    size = train_size or STREAM_TRAIN_SAMPLE
    train = train.sample(min(size, train.num_examples or size), seed=seed)
    if test_size is not None:
        test = subset_stream(test, test_size, seed=seed)
    return train, test


def _test_inputs(model, test, is_text):
    """`x_test`, `y_test` (`None` for a stream, read by `_test_dataset`)
    and the stream's `preprocess`."""
    if isinstance(test, LabeledData):
        return {
            "x_test": _prepare(model, test, is_text, "the test split"),
            "y_test": test.y.astype("int64"),
            "test_preprocess": None,
        }
    return {
        "x_test": test,
        "y_test": None,
        "test_preprocess": model.preprocessor if is_text else None,
    }


def _test_dataset(data):
    """The test split's batches: from the arrays, or read from the stream."""
    if data["y_test"] is None:
        return stream_batches(data["x_test"], 256, data["test_preprocess"])
    return tf.data.Dataset.from_tensor_slices((data["x_test"], data["y_test"])).batch(
        256
    )


def _search(
    hypermodel, data, output_dir, project_name, search, model_name, dataset, say
):
    """Runs (or resumes) the search; writes its results. Returns
    `(results, project_dir, run_dir)` (`results`: `write_search_results`)."""
    tuner, epochs = search["tuner"], search["epochs"]
    num_search, num_val = len(data["search_idx"]), len(data["val_idx"])
    num_classes = data["num_classes"]
    tuner_obj, project_dir, run_dir = start_search(
        tuner,
        hypermodel,
        output_dir,
        "tune",
        project_name,
        f"Tuning: {tuner} search, {search['max_trials']} trials of {epochs} "
        f"epoch(s), {num_search} train / {num_val} validation examples, "
        f"{num_classes} classes",
        say,
        max_trials=search["max_trials"],
        objective="val_accuracy",
        seed=search["seed"],
        overwrite=search["overwrite"],
        max_epochs=epochs,
    )
    x_train, y_train = data["x_train"], data["y_train"]
    search_idx, val_idx = data["search_idx"], data["val_idx"]
    with quiet_search():
        tuner_obj.search(
            x_train[search_idx],
            y_train[search_idx],
            validation_data=(x_train[val_idx], y_train[val_idx]),
            epochs=epochs,
            verbose=search["keras_verbose"],
        )
    results = write_search_results(
        tuner_obj,
        hypermodel,
        run_dir,
        lambda num_trials, num_failed: [
            f"# Fine-tuning search: {tuner}",
            "",
            f"- model: `{model_name}`, dataset: `{describe(dataset)}` "
            f"({num_search} train / {num_val} validation, "
            f"{num_classes} classes)",
            f"- trials: {num_trials} ({num_failed} failed), "
            f"{epochs} epoch(s) each; objective `val_accuracy`",
            f"- keras-tuner project: `{project_dir}`",
            f"- `trainable_layers`: top layers fine-tuned; 0 = head only, "
            f"{hypermodel.num_blocks} = all",
            "",
        ],
        hypermodel.num_blocks,
        "val_accuracy",
        "model",
    )
    return results, project_dir, run_dir


def _retrain(hypermodel, best, data, model, is_text, epochs, search, say):
    """Retrains the best trial on the whole training split; scores it on the
    test split. Returns `(TaskClassifier, test accuracy, epochs)`."""
    retrain_epochs = int(best.hyperparameters.values.get("tuner/epochs", epochs))
    say(
        f"Best: trial {best.trial_id}, val_accuracy={best.score:.4f}; retraining "
        f"on {len(data['y_train'])} examples for {retrain_epochs} epoch(s) ..."
    )
    keras.backend.clear_session()
    with quiet_search():
        classifier = hypermodel.build(best.hyperparameters)
        hypermodel.fit(
            best.hyperparameters,
            classifier,
            data["x_train"],
            data["y_train"],
            epochs=retrain_epochs,
            verbose=search["keras_verbose"],
        )
        test_ds = _test_dataset(data)
        with warnings.catch_warnings():
            # A streamed test split has no known number of batches.
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            scores = classifier.evaluate(test_ds, verbose=0, return_dict=True)
        test_accuracy = float(scores["accuracy"])
    # Raw inputs in (uint8 images / strings), class names in the config.
    task = TaskClassifier(
        classifier,
        preprocessor=model.preprocessor if is_text else None,
        label_names=data["label_names"],
        name="task_classifier",
    )
    return task, test_accuracy, retrain_epochs
