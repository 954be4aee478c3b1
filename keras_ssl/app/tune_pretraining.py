"""Label-free search over pretraining hyperparameters (keras-tuner)."""

import hashlib
import json
import os
import time

import numpy as np

from keras_ssl import recipes
from keras_ssl.app._search_run import (
    describe,
    quiet_search,
    start_search,
    write_search_results,
)
from keras_ssl.app.run_directory import write_json
from keras_ssl.checks import check_positive_int, check_seed
from keras_ssl.datasets import LabeledData, load
from keras_ssl.export._checks import check_path_name, check_writable_dir

PRETRAIN_TUNERS = ("random", "bayesian")
# The arguments that change what a trial means (with `widths`, `seed` and
# the search space), in `tune_pretraining.json`'s order.
_SETTINGS = (
    "method",
    "objective",
    "steps",
    "batch_size",
    "labelled_size",
    "unlabelled_size",
)


def _as_data(data, dataset, part):
    if isinstance(data, str | os.PathLike):
        data = load(data)
    if not isinstance(data, LabeledData):
        raise ValueError(
            "Argument `dataset` must be a dataset name, a path, a LabeledData "
            f"or an (unlabelled, held_out) pair of them. Received: "
            f"dataset={dataset!r} giving {type(data).__name__} ({part})"
        )
    x = data.x
    if x.dtype == object or x.ndim != 4:
        raise ValueError(
            "Pretraining search needs images of shape (N, height, width, "
            f"channels). Received: dataset={dataset!r} ({part}) with "
            f"x.shape={x.shape}, dtype={x.dtype}"
        )
    return data


def _split_data(dataset, seed):
    """`(pool, held_out)`: unlabelled pretraining images and a disjoint
    held-out split (scored by the objective)."""
    if isinstance(dataset, tuple | list) and len(dataset) == 2:
        return (
            _as_data(dataset[0], dataset, "unlabelled"),
            _as_data(dataset[1], dataset, "held out"),
        )
    if isinstance(dataset, str) and dataset == "fashion_mnist":
        return (
            _as_data(load(dataset, split="train"), dataset, "train"),
            _as_data(load(dataset, split="test"), dataset, "test"),
        )
    data = _as_data(dataset, dataset, "all")
    order = np.random.default_rng(seed).permutation(len(data))
    held = max(1, min(len(data) // 5, len(data) - 1))
    take = lambda idx, suffix: LabeledData(  # noqa: E731
        data.x[np.sort(idx)],
        None if data.y is None else data.y[np.sort(idx)],
        data.label_names,
        f"{data.name}{suffix}",
    )
    return take(order[held:], "-pool"), take(order[:held], "-held-out")


def _subset(data, n, seed):
    return data if n >= len(data) else data.subset(n, seed=seed)


def _fingerprint(settings, *arrays):
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for array in arrays:
        if array is not None:
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:12]


def tune_pretraining(
    method="simclr",
    dataset="fashion_mnist",
    objective="knn_accuracy",
    tuner="random",
    max_trials=6,
    steps=200,
    output_dir="runs",
    labelled_size=2000,
    seed=0,
    batch_size=128,
    unlabelled_size=None,
    widths=(32, 64, 128),
    search_space=None,
    project_name=None,
    overwrite=False,
    verbose=1,
):
    """Searches pretraining hyperparameters with a label-free or small-label
    objective.

    Each trial (`keras_ssl.tuning.pretrain_hyper_model.PretrainHyperModel`)
    pretrains a fresh encoder with `method` for `steps` steps on unlabelled
    images, with its own learning rate, temperature (SimCLR / MoCo) and
    augmentation strength (crop scale lower bound, colour-jitter strength),
    then scores the frozen encoder:

    - `"knn_accuracy"`: weighted 20-NN accuracy on a small labelled split
      (`labelled_size` held-out images, 80% bank / 20% queries).
    - `"effective_rank"`: effective rank (RankMe) of the encoder's
      embeddings of `labelled_size` held-out images; no labels are read, so
      the dataset may be unlabelled.

    For `"fashion_mnist"` the training split is pretrained on and the test
    split is held out; another dataset (a path or a `LabeledData`) is split
    here (20% held out), or pass an `(unlabelled, held_out)` pair.

    The search is resumable: its keras-tuner project lives in
    `output_dir/tune-pretraining-projects/<method>-<objective>-<tuner>-
    <fingerprint>/` (the fingerprint covers the data and the settings that
    change what a trial means, not `max_trials`); running again with the same
    arguments continues where it stopped. A failed trial is recorded and the
    search goes on.

    Each call writes `output_dir/tune-pretraining-<timestamp>/` with
    `best_hyperparameters.json` (the values, which
    `PretrainHyperModel(method, **values)` accepts to fix the space),
    `results.md` (every trial, best first) and `tune_pretraining.json`.

    Args:
        method: a method with a search space in its recipe
            (`keras_ssl.recipes.names(searchable=True)`: the two-view image
            methods `"simclr"`, `"byol"`, `"simsiam"`, `"barlow_twins"`,
            `"vicreg"`, `"moco"`, `"triplet"`).
        dataset: `"fashion_mnist"`, an image folder, a `LabeledData` or an
            `(unlabelled, held_out)` pair.
        objective: `"knn_accuracy"` or `"effective_rank"`.
        tuner: `"random"` or `"bayesian"`.
        max_trials: trial budget.
        steps: pretraining steps per trial.
        output_dir: parent folder of the run directory and the projects.
        labelled_size: size of the held-out split the objective uses.
        seed: seed of the splits, the search and the training.
        batch_size: pretraining batch size.
        unlabelled_size: optional number of pretraining images (a random
            subset).
        widths: channels of the ConvNet encoder's stages.
        search_space: optional dict of `PretrainHyperModel` search-space
            arguments, e.g. `{"temperature": 0.1, "learning_rate": (1e-3,
            1e-2)}`.
        project_name: optional explicit keras-tuner project name; one
            folder name (letters, digits, `_.-`, no separators or `..`).
        overwrite: delete the project's earlier trials and start afresh.
        verbose: 0 silent, 1 one line per trial, 2 also Keras progress bars.

    Returns:
        dict with `run_dir`, `project_dir`, `objective`, `best_score`,
        `best_hyperparameters`, `best_trial`, `trials` (best first),
        `num_trials`, `num_failed` and `seconds`.

    Example:

    >>> result = tune_pretraining(  # doctest: +SKIP
    ...     "simclr", objective="effective_rank", max_trials=8, steps=300)
    >>> result["best_hyperparameters"]  # doctest: +SKIP
    """
    args = dict(locals())
    from keras_ssl.tuning.pretrain_hyper_model import PretrainHyperModel

    search_space = _check_arguments(args)
    say = print if verbose else (lambda *a, **k: None)
    start = time.monotonic()
    split = _prepare_data(
        dataset, objective, seed, batch_size, labelled_size, unlabelled_size
    )
    hypermodel = PretrainHyperModel(
        method,
        split["image_shape"],
        objective=objective,
        steps=steps,
        batch_size=batch_size,
        widths=tuple(widths),
        seed=seed,
        **search_space,
    )
    # What a trial means (fingerprinted, with the data), then the search.
    settings = {
        **{key: args[key] for key in _SETTINGS},
        "widths": list(widths),
        "seed": seed,
        "search_space": {k: repr(v) for k, v in sorted(search_space.items())},
    }
    x_pool, split_text = split["x_pool"], split["split_text"]
    project_name = project_name or (
        f"{method}-{objective}-{tuner}-"
        f"{_fingerprint(settings, x_pool, split['held_x'], split['label_bytes'])}"
    )
    tuner_obj, project_dir, run_dir = start_search(
        tuner,
        hypermodel,
        output_dir,
        "tune-pretraining",
        project_name,
        f"Tuning pretraining: {method}, {tuner} search, {max_trials} trials of "
        f"{steps} steps on {len(x_pool)} unlabelled images; objective "
        f"{objective} on {split_text}",
        say,
        max_trials=max_trials,
        objective=hypermodel.tuner_objective,
        seed=seed,
        overwrite=overwrite,
    )
    with quiet_search():
        tuner_obj.search(
            x_pool, verbose=1 if verbose >= 2 else 0, **split["fit_kwargs"]
        )
    header = _results_header(tuner, dataset, split, settings, project_dir)
    results = write_search_results(
        tuner_obj, hypermodel, run_dir, header, None, objective, "setting"
    )
    record = {
        **settings,
        "tuner": tuner,
        "dataset": describe(dataset),
        "max_trials": max_trials,
        "num_unlabelled": len(x_pool),
    }
    return _finish(results, run_dir, project_dir, record, start, say)


def _finish(results, run_dir, project_dir, record, start, say):
    """Reports the best trial and writes `tune_pretraining.json`."""
    objective = record["objective"]
    rows, best, best_values = (
        results["rows"],
        results["best"],
        results["best_values"],
    )
    say(f"Best: trial {best.trial_id}, {objective}={best.score:.4f} {best_values}")
    result = {
        "run_dir": run_dir,
        "project_dir": project_dir,
        "objective": objective,
        "best_score": float(best.score),
        "best_hyperparameters": best_values,
        "best_trial": best.trial_id,
        "num_trials": len(rows),
        "num_failed": results["num_failed"],
        "seconds": time.monotonic() - start,
    }
    write_json(
        os.path.join(run_dir, "tune_pretraining.json"),
        {**result, **record, "trials": rows},
    )
    return {**result, "trials": rows}


def _check_arguments(args):
    """Checks `tune_pretraining`'s arguments (a dict of them) before anything
    is read or written; returns the search space as a dict."""
    from keras_ssl.tuning.pretrain_hyper_model import PRETRAIN_OBJECTIVES, check_choice

    check_choice("method", args["method"], recipes.names(searchable=True))
    check_choice("objective", args["objective"], PRETRAIN_OBJECTIVES)
    check_choice("tuner", args["tuner"], PRETRAIN_TUNERS)
    check_seed("seed", args["seed"])
    for name in ("max_trials", "steps", "labelled_size", "batch_size"):
        check_positive_int(name, args[name])
    check_positive_int("unlabelled_size", args["unlabelled_size"], allow_none=True)
    search_space = _check_search_space(args["search_space"])
    if args["project_name"] is not None:
        check_path_name(args["project_name"], "project_name")
    check_writable_dir(args["output_dir"], "output_dir")
    return search_space


def _check_search_space(search_space):
    """`search_space` as a dict of `PretrainHyperModel` arguments."""
    from keras_ssl.tuning.pretrain_hyper_model import SEARCH_SPACE_NAMES

    if search_space is not None and not isinstance(search_space, dict):
        raise ValueError(
            "Argument `search_space` must be a dict of PretrainHyperModel "
            f"search-space arguments. Received: search_space={search_space!r}"
        )
    search_space = dict(search_space or {})
    unknown = sorted(map(str, set(search_space) - set(SEARCH_SPACE_NAMES)))
    if unknown:
        raise ValueError(
            f"Unknown `search_space` keys {unknown}. Expected some of "
            f"{list(SEARCH_SPACE_NAMES)}."
        )
    return search_space


def _prepare_data(dataset, objective, seed, batch_size, labelled_size, unlabelled_size):
    """The unlabelled pool and what the objective scores on.

    Returns a dict with `x_pool`, `held_x`, `image_shape`, `fit_kwargs` (of
    the trials' `fit`), `label_bytes` (fingerprinted) and `split_text`.
    """
    pool, held = _split_data(dataset, seed)
    if unlabelled_size is not None:
        pool = _subset(pool, unlabelled_size, seed)
    held = _subset(held, labelled_size, seed)
    x_pool = pool.x  # labels of the pretraining pool are never read
    if len(x_pool) < batch_size:
        raise ValueError(
            "Argument `batch_size` must not exceed the number of unlabelled "
            f"images. Received: batch_size={batch_size} for {len(x_pool)} images"
        )
    image_shape = tuple(int(d) for d in x_pool.shape[1:])
    if tuple(held.x.shape[1:]) != image_shape:
        raise ValueError(
            "The held-out images must have the shape of the unlabelled ones. "
            f"Received: {tuple(held.x.shape[1:])} and {image_shape}"
        )
    split = {"x_pool": x_pool, "held_x": held.x, "image_shape": image_shape}
    if objective == "knn_accuracy":
        if held.y is None:
            raise ValueError(
                "The knn_accuracy objective needs labels on the held-out split. "
                f"Received: dataset={describe(dataset)!r} without labels; use "
                "objective='effective_rank' for unlabelled data."
            )
        bank, query = held.split(test_fraction=0.2, seed=seed, stratify=True)
        return {
            **split,
            "fit_kwargs": {"knn_data": (bank.x, bank.y, query.x, query.y)},
            "label_bytes": held.y,
            "split_text": f"{len(bank)} bank / {len(query)} query labelled images",
        }
    return {
        **split,
        "fit_kwargs": {"rank_images": held.x},  # images only: no labels
        "label_bytes": None,
        "split_text": f"{len(held)} held-out unlabelled images",
    }


def _results_header(tuner, dataset, split, settings, project_dir):
    """The function `write_search_results` calls for `results.md`'s header."""
    x_pool, split_text = split["x_pool"], split["split_text"]
    method, objective = settings["method"], settings["objective"]
    steps, batch_size = settings["steps"], settings["batch_size"]

    def header(num_trials, num_failed):
        return [
            f"# Pretraining search: {method}, {tuner}",
            "",
            f"- dataset: `{describe(dataset)}` ({len(x_pool)} unlabelled images; "
            f"objective on {split_text})",
            f"- trials: {num_trials} ({num_failed} failed), "
            f"{steps} steps of batch {batch_size} each; objective `{objective}` "
            "(higher is better)",
            f"- keras-tuner project: `{project_dir}`",
            "- `crop_scale_min`: lower bound of the crop's area fraction (smaller "
            "is stronger); `jitter_strength`: brightness and contrast jitter",
            "",
        ]

    return header
