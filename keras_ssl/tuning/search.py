"""Tuner construction, per-trial progress lines and trial summaries."""

import difflib
import math
import numbers
import os
import time

import keras_tuner

from keras_ssl.checks import check_name, check_positive_int

TUNERS = ("random", "hyperband", "bayesian")


class _ProgressMixin:
    """Calls `self.progress(line)` once per finished trial (if set)."""

    progress = None

    def on_trial_begin(self, trial):
        self._trial_start = time.monotonic()
        super().on_trial_begin(trial)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)  # may retry, fail or score the trial
        if self.progress is not None:
            seconds = time.monotonic() - getattr(self, "_trial_start", time.monotonic())
            self.progress(format_trial_line(self, trial, seconds))


class _RandomSearch(_ProgressMixin, keras_tuner.RandomSearch):
    pass


class _Hyperband(_ProgressMixin, keras_tuner.Hyperband):
    pass


class _BayesianOptimization(_ProgressMixin, keras_tuner.BayesianOptimization):
    pass


def check_tuner_name(name):
    """Raises a `ValueError` (with the closest name) unless `name` is a tuner."""
    check_name("tuner", name, TUNERS, cutoff=0.4)


def _check_objective(objective, hypermodel):
    if not isinstance(objective, str | keras_tuner.Objective):
        raise ValueError(
            "Argument `objective` must be a metric name or a "
            f"keras_tuner.Objective. Received: objective={objective!r}"
        )
    name = objective if isinstance(objective, str) else objective.name
    produced = getattr(hypermodel, "metric_names", None)
    if produced is not None and name not in produced:
        close = difflib.get_close_matches(name, produced, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            "Argument `objective` names a metric the model does not produce. "
            f"Received: objective={name!r}. Expected one of {list(produced)}.{hint}"
        )


def make_tuner(
    name,
    hypermodel,
    directory,
    project_name="fine_tune",
    max_trials=10,
    objective="val_accuracy",
    seed=0,
    overwrite=False,
    max_epochs=None,
    hyperparameters=None,
    tune_new_entries=True,
    max_consecutive_failed_trials=3,
    progress=None,
):
    """Builds a keras-tuner tuner by name.

    The search lives in keras-tuner's own project folder,
    `directory/project_name`. With `overwrite=False`, building the tuner
    again on the same folder reloads it: finished trials are kept and
    `search` runs only the remaining ones (a larger `max_trials` extends the
    search). A trial that raises is recorded as failed and the search goes
    on; only `max_consecutive_failed_trials` failures in a row stop it.

    Args:
        name: `"random"` (random search), `"hyperband"` (successive halving
            over epochs; needs `max_epochs`) or `"bayesian"` (Gaussian-process
            Bayesian optimisation).
        hypermodel: a `keras_tuner.HyperModel` such as `FineTuneHyperModel`.
        directory: parent folder of the project folder.
        project_name: name of the project folder.
        max_trials: number of trials (for Hyperband, an upper bound on top of
            its own bracket schedule).
        objective: metric to maximise or minimise (a name such as
            `"val_accuracy"` or a `keras_tuner.Objective`); it must be one of
            the hypermodel's `metric_names` when it declares them.
        seed: seed of the search.
        overwrite: start afresh, deleting an existing project folder.
        max_epochs: Hyperband's largest number of epochs per model.
        hyperparameters: optional `keras_tuner.HyperParameters` that narrows
            or fixes the space (e.g. `hp.Fixed("dropout", 0.1)`).
        tune_new_entries: with `hyperparameters`, whether the hypermodel's
            other hyperparameters are searched (`True`) or left at their
            defaults.
        max_consecutive_failed_trials: failed trials in a row that end the
            search.
        progress: optional callable taking one line of text per finished
            trial (e.g. `print`).

    Returns:
        A `keras_tuner.Tuner`.

    Example (not run as a doctest: a search trains one model per trial):

    >>> tuner = make_tuner(  # doctest: +SKIP
    ...     "bayesian", hypermodel, "runs/tuning", max_trials=20)
    >>> tuner.search(x, y, validation_data=(x_val, y_val), epochs=3)  # doctest: +SKIP
    """
    check_tuner_name(name)
    _check_objective(objective, hypermodel)
    check_positive_int("max_trials", max_trials)
    check_positive_int("max_consecutive_failed_trials", max_consecutive_failed_trials)
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(
            f"Argument `seed` must be an int >= 0. Received: seed={seed!r}"
        )
    if not isinstance(directory, str | os.PathLike) or not os.fspath(directory):
        raise ValueError(
            "Argument `directory` must be a folder path. "
            f"Received: directory={directory!r}"
        )
    if (
        not isinstance(project_name, str)
        or not project_name
        or (os.sep in project_name or project_name in (".", ".."))
    ):
        raise ValueError(
            "Argument `project_name` must be a folder name (no path separators). "
            f"Received: project_name={project_name!r}"
        )
    common = {
        "hypermodel": hypermodel,
        "objective": objective,
        # keras-tuner treats a seed of 0 as "no seed" (a random one).
        "seed": int(seed) + 1,
        "hyperparameters": hyperparameters,
        "tune_new_entries": tune_new_entries,
        "max_consecutive_failed_trials": max_consecutive_failed_trials,
        "directory": os.fspath(directory),
        "project_name": project_name,
        "overwrite": overwrite,
    }
    if name == "random":
        tuner = _RandomSearch(max_trials=max_trials, **common)
    elif name == "bayesian":
        tuner = _BayesianOptimization(max_trials=max_trials, **common)
    else:
        if max_epochs is None:
            raise ValueError(
                "The hyperband tuner needs `max_epochs` (the most epochs one "
                "model trains). Received: max_epochs=None"
            )
        check_positive_int("max_epochs", max_epochs)
        # Brackets repeat without end (`hyperband_iterations=0`); the trial
        # budget is `max_trials`, as for the other tuners.
        tuner = _Hyperband(
            max_epochs=max_epochs, factor=3, hyperband_iterations=0, **common
        )
        tuner.oracle.max_trials = max_trials
    tuner.progress = progress
    return tuner


def hyperparameter_values(trial):
    """The trial's hyperparameter values, without keras-tuner's bookkeeping."""
    return {
        name: value
        for name, value in trial.hyperparameters.values.items()
        if not name.startswith("tuner/")
    }


def format_value(name, value, num_blocks=None):
    """A short text for one hyperparameter value."""
    if name == "trainable_layers" and value == 0:
        return "0 (head)"
    if name == "trainable_layers" and num_blocks is not None and value == num_blocks:
        return f"all ({value})"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _score_text(score):
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return "-"
    return f"{score:.4f}"


def trial_results(tuner):
    """One dict per trial: `trial`, `status`, `hyperparameters`, `score`,
    `error` (the last line of a failed trial's traceback), best first."""
    rows = []
    for trial in tuner.oracle.trials.values():
        error = None
        if trial.status != "COMPLETED" and trial.message:
            lines = [line for line in trial.message.strip().splitlines() if line]
            error = lines[-1] if lines else None
        score = trial.score if trial.status == "COMPLETED" else None
        rows.append(
            {
                "trial": trial.trial_id,
                "status": str(trial.status),
                "hyperparameters": hyperparameter_values(trial),
                "score": None if score is None else float(score),
                "error": error,
            }
        )
    maximize = tuner.oracle.objective.direction == "max"

    def key(row):
        if row["score"] is None:
            return (1, 0.0, row["trial"])
        return (0, -row["score"] if maximize else row["score"], row["trial"])

    return sorted(rows, key=key)


def format_trial_line(tuner, trial, seconds):
    """`Trial 03 (4/10) COMPLETED in 3s: val_accuracy=0.81 (best 0.83) | ...`

    The id is keras-tuner's (its folder is `trial_<id>`), then the number of
    trials finished so far out of `max_trials`.
    """
    oracle = tuner.oracle
    objective = oracle.objective.name
    num_blocks = getattr(tuner.hypermodel, "num_blocks", None)
    total = oracle.max_trials or "?"
    head = (
        f"Trial {trial.trial_id} ({len(oracle.end_order)}/{total}) "
        f"{trial.status} in {seconds:.0f}s"
    )
    if trial.status == "COMPLETED":
        best = oracle.get_best_trials(1)
        best_score = best[0].score if best else None
        head += (
            f": {objective}={_score_text(trial.score)} (best {_score_text(best_score)})"
        )
    else:
        lines = [line for line in (trial.message or "").strip().splitlines() if line]
        if lines:
            head += f": {lines[-1]}"
    values = " ".join(
        f"{name}={format_value(name, value, num_blocks)}"
        for name, value in hyperparameter_values(trial).items()
    )
    all_values = trial.hyperparameters.values
    if "tuner/epochs" in all_values:  # Hyperband
        values += (
            f" epochs={all_values.get('tuner/initial_epoch', 0)}"
            f"->{all_values['tuner/epochs']}"
        )
    return f"{head} | {values}"
