"""Run directories: one folder per run with config, metrics and logs."""

import json
import os
import time


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


def write_json(path, data):
    """Writes `data` as JSON atomically (temporary file, then rename)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True, default=float)
    os.replace(tmp, path)


def write_lines(path, lines):
    """Writes one string per line atomically."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
