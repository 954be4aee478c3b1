"""Run directories: one folder per run with config, metrics and logs.

Every file here is written atomically (a hidden temporary file in the same
folder, then one rename), so a crash or a kill during a write leaves the
previous complete file, never a half-written one.
"""

import json
import os
import time

from keras_ssl.atomic_io import atomic_write, remove_temporaries

CHECKPOINT_DIR = "checkpoint"
# Written last by a workflow: its presence marks a finished run.
FINISHED_MARKER = "metrics.json"


def make_run_directory(output_dir, prefix):
    """Creates `output_dir/<prefix>-<timestamp>[-n]/` and returns its path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = os.path.join(output_dir, f"{prefix}-{stamp}")
    path, n = base, 1
    while True:
        try:
            os.makedirs(path)
            return path
        except FileExistsError:
            n += 1
            path = f"{base}-{n}"
        except OSError as e:
            raise ValueError(
                f"Cannot create a run directory in `output_dir`. Received: "
                f"output_dir={output_dir!r} ({e.strerror})"
            ) from e


def _dump_json(data):
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True, default=float)

    return write


def write_json(path, data):
    """Writes `data` as JSON atomically (temporary file, then rename)."""
    # Serialise first: a value JSON cannot hold fails before any file exists.
    json.dumps(data, default=float)
    atomic_write(path, _dump_json(data))


def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_lines(path, lines):
    """Writes one string per line atomically."""

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")

    atomic_write(path, write)


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")[:-1]


def save_model(model, path):
    """`model.save(path)` atomically: a `.keras` file is complete or absent."""
    atomic_write(path, model.save, suffix=".keras")
    return path


def is_finished(run_dir):
    """Whether the workflow of `run_dir` wrote its final results."""
    return os.path.isfile(os.path.join(run_dir, FINISHED_MARKER))


def checkpoint_directory(run_dir):
    return os.path.join(run_dir, CHECKPOINT_DIR)


def _checkpoint_state(run_dir):
    # Imported here: the writers above need no Keras.
    from keras_ssl.callbacks.run_checkpoint import RunCheckpoint

    return RunCheckpoint.state_path(checkpoint_directory(run_dir))


def _has_checkpoint(run_dir):
    return os.path.isfile(_checkpoint_state(run_dir))


def _run_config(run_dir):
    path = os.path.join(run_dir, "config.json")
    try:
        config = read_json(path)
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


def resolve_resume(resume, output_dir, kind, matches=None):
    """The run directory to continue, or `None` for a new run.

    Args:
        resume: `False`/`None` (new run), `True` (the unfinished run of
            `kind` under `output_dir` checkpointed most recently) or the path
            of a run directory.
        output_dir: where runs of this workflow are created.
        kind: `"finetune"` or a pretraining method (for messages).
        matches: `config -> bool` (defaults to `config["method"] == kind`).

    Raises:
        ValueError: nothing to resume, or the run is finished.
    """
    if resume is None or resume is False:
        return None
    if matches is None:

        def matches(config):
            return config.get("method") == kind

    if resume is True:
        candidates = []
        if os.path.isdir(output_dir):
            for entry in os.scandir(output_dir):
                config = _run_config(entry.path) if entry.is_dir() else None
                if (
                    config is not None
                    and matches(config)
                    and not is_finished(entry.path)
                    and _has_checkpoint(entry.path)
                ):
                    mtime = os.path.getmtime(_checkpoint_state(entry.path))
                    candidates.append((mtime, entry.path))
        if not candidates:
            raise ValueError(
                f"Nothing to resume: no unfinished {kind} run with a checkpoint "
                f"under `output_dir`. Received: output_dir={output_dir!r}, "
                "resume=True. Start a new run without `resume`."
            )
        return max(candidates)[1]
    if not isinstance(resume, str | os.PathLike) or isinstance(resume, bool):
        raise ValueError(
            "Argument `resume` must be False, True or the path of a run "
            f"directory. Received: resume={resume!r}"
        )
    run_dir = os.fspath(resume)
    config = _run_config(run_dir)
    if config is None:
        raise ValueError(
            "Argument `resume` must be a run directory holding a config.json. "
            f"Received: resume={run_dir!r}"
        )
    if is_finished(run_dir):
        raise ValueError(
            f"The run in `resume` is finished ({FINISHED_MARKER} exists), so "
            "there is nothing to continue; a finished run is never trained "
            f"over. Received: resume={run_dir!r}. Start a new run without "
            "`resume`."
        )
    if not _has_checkpoint(run_dir):
        raise ValueError(
            "Argument `resume` must be a run directory holding a checkpoint "
            f"(checkpoint/state.json). Received: resume={run_dir!r}, which has "
            "none (the run stopped before its first checkpoint): start a new run."
        )
    if not matches(config):
        raise ValueError(
            f"The run in `resume` is not a {kind} run. Received: "
            f"resume={run_dir!r} with method={config.get('method')!r}"
        )
    return run_dir


def check_same_config(run_dir, config, ignore=(), only=None):
    """Raises if `config` differs from `run_dir/config.json` (keys named).

    Compares the keys of both (or `only` these), less `ignore`, after a
    JSON round trip (tuples become lists).
    """
    saved = _run_config(run_dir) or {}
    new = json.loads(json.dumps(config, sort_keys=True, default=float))
    keys = set(saved) | set(new) if only is None else set(only)
    keys = sorted(keys - set(ignore))
    differing = [k for k in keys if saved.get(k) != new.get(k)]
    if differing:
        details = ", ".join(
            f"{k}: {saved.get(k)!r} in the run, {new.get(k)!r} requested"
            for k in differing
        )
        raise ValueError(
            "Cannot resume: the requested settings differ from the run's "
            f"config.json in {differing}. Received: resume={run_dir!r} with "
            f"{details}. Pass the settings the run started with, or start a "
            "new run."
        )


def clean_run_directory(run_dir):
    """Removes temporary files left by writes interrupted in `run_dir`."""
    return remove_temporaries(run_dir)
