"""Plumbing shared by the keras-tuner workflows (`tune`, `tune_pretraining`):
the resumable search, the results table and run files."""

import contextlib
import logging
import os
import warnings

from keras_ssl.app.run_directory import (
    make_run_directory,
    write_json,
    write_lines,
)
from keras_ssl.datasets import LabeledData


def describe(dataset):
    """A short name of a dataset argument (a name, a `LabeledData`, a pair)."""
    if isinstance(dataset, tuple | list):
        return " / ".join(describe(part) for part in dataset)
    if isinstance(dataset, LabeledData):
        return dataset.name
    return str(dataset)


@contextlib.contextmanager
def quiet_search():
    """Hides per-trial noise: tf.function retracing (each trial is a new
    model) and Hyperband's warning that a resumed trial's optimizer state is
    not reloaded (the schedule restarts by design)."""
    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="Skipping variable loading for optimizer"
            )
            yield
    finally:
        tf_logger.setLevel(level)


def markdown_table(rows, names, num_blocks, objective):
    """Lines of a Markdown table of trial rows (`trial_results`), best first."""
    from keras_ssl.tuning.search import format_value

    header = ["rank", "trial", *names, objective, "status"]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for rank, row in enumerate(rows, 1):
        hp = row["hyperparameters"]
        cells = [
            str(rank) if row["score"] is not None else "-",
            row["trial"],
            *(format_value(n, hp[n], num_blocks) if n in hp else "-" for n in names),
            "-" if row["score"] is None else f"{row['score']:.4f}",
            row["status"].lower() + (f": {row['error']}" if row["error"] else ""),
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return lines


def start_search(
    tuner, hypermodel, output_dir, kind, project_name, intro, say, **tuner_kwargs
):
    """Makes the (resumable) tuner and the run directory; says what runs.

    The keras-tuner project lives in `output_dir/<kind>-projects/project_name`
    and the run directory is `output_dir/<kind>-<timestamp>/`.

    Returns:
        `(tuner_obj, project_dir, run_dir)`.
    """
    from keras_ssl.tuning import make_tuner

    projects_dir = os.path.join(output_dir, f"{kind}-projects")
    tuner_obj = make_tuner(
        tuner,
        hypermodel,
        directory=projects_dir,
        project_name=project_name,
        progress=say,
        **tuner_kwargs,
    )
    project_dir = os.path.join(projects_dir, project_name)
    run_dir = make_run_directory(output_dir, kind)
    done = len(tuner_obj.oracle.trials)
    say(intro)
    say(
        f"Project (resumable): {project_dir}"
        + (f" ({done} trial(s) already done)" if done else "")
    )
    return tuner_obj, project_dir, run_dir


def write_search_results(
    tuner_obj, hypermodel, run_dir, header, num_blocks, objective, what
):
    """Writes `results.md` (the lines `header(num_trials, num_failed)`
    returns, then every trial) and `best_hyperparameters.json`; raises if
    every trial failed (no best `what`).

    Returns:
        dict with `rows` (best first), `num_failed`, `lines` (of
        `results.md`), `results_path`, `best` (the best trial) and
        `best_values` (its hyperparameter values).
    """
    from keras_ssl.tuning import trial_results
    from keras_ssl.tuning.search import hyperparameter_values

    rows = trial_results(tuner_obj)
    completed = [row for row in rows if row["score"] is not None]
    names = [
        n for n in hypermodel.space if any(n in r["hyperparameters"] for r in rows)
    ]
    num_failed = len(rows) - len(completed)
    lines = [
        *header(len(rows), num_failed),
        *markdown_table(rows, names, num_blocks, objective),
    ]
    results_path = os.path.join(run_dir, "results.md")
    write_lines(results_path, lines)
    if not completed:
        errors = "; ".join(sorted({row["error"] or row["status"] for row in rows}))
        raise RuntimeError(
            f"All {len(rows)} trial(s) failed, so there is no best {what}. "
            f"Errors: {errors}. Trials: {results_path}"
        )
    best = tuner_obj.oracle.get_best_trials(1)[0]
    best_values = hyperparameter_values(best)
    write_json(os.path.join(run_dir, "best_hyperparameters.json"), best_values)
    return {
        "rows": rows,
        "num_failed": num_failed,
        "lines": lines,
        "results_path": results_path,
        "best": best,
        "best_values": best_values,
    }
