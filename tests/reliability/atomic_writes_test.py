"""Interrupted writes leave the previous good file, never a half-written one.

Two kinds of interruption, for each kind of result file (JSON, vocabulary
lines, `.keras` model, training checkpoint) and for versioned exports:

- an exception injected in the middle of the write (the writer has already
  put bytes in its output): the previous file is intact and no temporary
  file is left;
- SIGKILL of a child process that rewrites a large file in a loop, sent
  while the temporary file exists (that is, in the middle of a write): the
  final name holds the previous complete version; the killed write's hidden
  temporary file (`.<name>.tmp-*`) is all that remains of it.

The JSON and vocabulary children import the writers without TensorFlow
(the package folders are registered without running their `__init__`), so
they start in a fraction of a second.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest

import keras_ssl
from keras_ssl.app import run_directory
from keras_ssl.app.run_directory import save_model, write_json, write_lines
from keras_ssl.atomic_io import atomic_write
from keras_ssl.callbacks import RunCheckpoint
from keras_ssl.export import versioned_export

PACKAGE_DIR = os.path.dirname(keras_ssl.__file__)


def temporaries(folder):
    return sorted(n for n in os.listdir(folder) if ".tmp-" in n)


def tiny_model(value=0.0, units=4):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(units, name="dense")(inputs))
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_variables)
    for w in model.weights:
        w.assign(np.full(w.shape, value, "float32"))
    return model


# Exceptions in the middle of a write ----------------------------------------


def test_atomic_write_removes_the_partial_file_on_error(tmp_path):
    path = tmp_path / "result.bin"
    path.write_bytes(b"good")

    def half_then_fail(tmp):
        with open(tmp, "wb") as f:
            f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half_then_fail)
    assert path.read_bytes() == b"good"
    assert temporaries(tmp_path) == []


def test_write_json_error_mid_write_keeps_previous(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    write_json(path, {"accuracy": 0.5})

    def partial_dump(data, f, **kwargs):
        f.write('{"accuracy": 0.')
        raise OSError("disk full")

    monkeypatch.setattr(run_directory.json, "dump", partial_dump)
    with pytest.raises(OSError):
        write_json(path, {"accuracy": 0.9})
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"accuracy": 0.5}
    assert temporaries(tmp_path) == []


def test_write_json_unserialisable_value_keeps_previous(tmp_path):
    path = tmp_path / "config.json"
    write_json(path, {"a": 1})
    with pytest.raises(TypeError):
        write_json(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert temporaries(tmp_path) == []


def test_write_lines_error_mid_write_keeps_previous(tmp_path):
    path = tmp_path / "vocabulary.txt"
    write_lines(path, ["[PAD]", "cat"])

    def failing_lines():
        yield "[PAD]"
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_lines(path, failing_lines())
    assert run_directory.read_lines(path) == ["[PAD]", "cat"]
    assert temporaries(tmp_path) == []


def test_save_model_error_mid_write_keeps_previous(tmp_path):
    path = tmp_path / "model.keras"
    save_model(tiny_model(1.0), path)
    model = tiny_model(2.0)

    def half_written_save(filepath):
        with open(filepath, "wb") as f:
            f.write(b"PK\x03\x04 half a zip file")
        raise OSError("killed")

    model.save = half_written_save
    with pytest.raises(OSError):
        save_model(model, path)
    reloaded = keras.saving.load_model(path)
    assert all(np.all(np.asarray(w) == 1.0) for w in reloaded.weights)
    assert temporaries(tmp_path) == []


@pytest.mark.parametrize("fail_in", ["weights", "state"])
def test_checkpoint_error_mid_save_keeps_previous(tmp_path, monkeypatch, fail_in):
    directory = tmp_path / "ckpt"
    RunCheckpoint(directory).save(tiny_model(1.0))
    good = sorted(os.listdir(directory))
    model = tiny_model(2.0)
    if fail_in == "weights":

        def half_written_weights(filepath):
            with open(filepath, "wb") as f:
                f.write(b"\x89HDF half")
            raise OSError("killed")

        model.save_weights = half_written_weights
    else:  # weights and arrays written, state.json not yet replaced

        def partial_dump(data, f, **kwargs):
            f.write('{"format": 1, "step"')
            raise OSError("killed")

        monkeypatch.setattr(
            "keras_ssl.callbacks.run_checkpoint.json.dump", partial_dump
        )
    with pytest.raises(OSError):
        RunCheckpoint(directory).save(model)
    monkeypatch.undo()
    assert not [n for n in os.listdir(directory) if ".tmp-" in n]
    if fail_in == "weights":
        assert sorted(os.listdir(directory)) == good
    restored = tiny_model(0.0)
    assert RunCheckpoint(directory).restore(restored)
    assert all(np.all(np.asarray(w) == 1.0) for w in restored.weights)
    # The next save clears the orphans of the failed one.
    RunCheckpoint(directory).save(tiny_model(3.0))
    state = json.loads((directory / "state.json").read_text())
    assert sorted(os.listdir(directory)) == sorted(
        ["state.json", state["weights"], state["arrays"]]
    )


# SIGKILL in the middle of a write -------------------------------------------

# Registers the package folders without running their `__init__` (which
# imports TensorFlow), then imports a module that needs only the stdlib.
LIGHT_IMPORT = f"""
import importlib, sys, types
for name in ("keras_ssl", "keras_ssl.callbacks", "keras_ssl.app",
             "keras_ssl.export"):
    module = types.ModuleType(name)
    module.__path__ = [{PACKAGE_DIR!r} + name[len("keras_ssl"):].replace(".", "/")]
    sys.modules[name] = module
"""

WRITERS = {
    "json": """
from keras_ssl.app.run_directory import write_json
def write(path, n):
    write_json(path, {"version": n, "payload": list(range(2_000_000)), "end": n})
""",
    "lines": """
from keras_ssl.app.run_directory import write_lines
def write(path, n):
    write_lines(path, [f"token{i}" for i in range(1_500_000)] + [f"end-{n}"])
""",
    "model": """
import keras
from keras_ssl.app.run_directory import save_model
inputs = keras.Input((1000,))
model = keras.Model(inputs, keras.layers.Dense(4000, name="dense")(inputs))
def write(path, n):
    for w in model.weights:
        w.assign(keras.ops.full(w.shape, float(n)))
    save_model(model, path)
""",
    "checkpoint": """
import os
import keras
from keras_ssl.callbacks import RunCheckpoint
inputs = keras.Input((1000,))
model = keras.Model(inputs, keras.layers.Dense(4000, name="dense")(inputs))
model.compile(optimizer="adam", loss="mse")
def write(path, n):
    for w in model.weights:
        w.assign(keras.ops.full(w.shape, float(n)))
    checkpoint = RunCheckpoint(os.path.dirname(path))
    checkpoint.step = n
    checkpoint.save(model)
""",
}

CHILD = """
import os, sys
path = sys.argv[1]
write(path, 1)
open(path + ".ready", "w").close()
n = 2
while True:
    write(path, n)
    n += 1
"""


def _start_writer(kind, path):
    light = kind in ("json", "lines")
    code = (LIGHT_IMPORT if light else "") + WRITERS[kind] + CHILD
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    with open(f"{path}.log", "w") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), str(path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def _kill_mid_write(process, path, timeout=300):
    """Waits for the first complete version, then kills the child as soon as
    a temporary file of a later write exists. Returns the leftovers."""
    folder = os.path.dirname(path)
    deadline = time.monotonic() + timeout
    ready = f"{path}.ready"
    while not os.path.exists(ready) or not temporaries(folder):
        if process.poll() is not None:
            raise AssertionError(open(f"{path}.log").read()[-3000:])
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("the writer never started a second write")
        time.sleep(0.002)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    return temporaries(folder)


@pytest.fixture(scope="module")
def killed_writers(tmp_path_factory):
    """Starts the four writers together, kills each in the middle of a write."""
    paths = {
        "json": "metrics.json",
        "lines": "vocabulary.txt",
        "model": "model.keras",
        "checkpoint": "state.json",
    }
    started = {}
    for kind, name in paths.items():
        path = str(tmp_path_factory.mktemp(kind) / name)
        started[kind] = (_start_writer(kind, path), path)
    return {
        kind: (path, _kill_mid_write(process, path))
        for kind, (process, path) in started.items()
    }


def _version(kind, path):
    """The version number of the complete file at `path`."""
    if kind == "json":
        with open(path) as f:
            data = json.load(f)
        assert data["payload"] == list(range(2_000_000))
        assert data["end"] == data["version"]
        return data["version"]
    if kind == "lines":
        lines = run_directory.read_lines(path)
        assert len(lines) == 1_500_001 and lines[-2] == "token1499999"
        return int(lines[-1].removeprefix("end-"))
    if kind == "model":
        model = keras.saving.load_model(path)
    else:
        inputs = keras.Input((1000,))
        model = keras.Model(inputs, keras.layers.Dense(4000, name="dense")(inputs))
        model.compile(optimizer="adam", loss="mse")
        checkpoint = RunCheckpoint(os.path.dirname(path))
        assert checkpoint.restore(model)
    values = {float(np.unique(np.asarray(w))[0]) for w in model.weights}
    assert len(values) == 1  # every weight of one version, no mix
    (value,) = values
    if kind == "checkpoint":
        assert checkpoint.step == value
    return int(value)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["json", "lines", "model", "checkpoint"])
def test_sigkill_mid_write_leaves_previous_complete_file(killed_writers, kind):
    path, leftovers = killed_writers[kind]
    # Killed during a write: its temporary file is still there ...
    assert leftovers, "the kill did not land in a write"
    assert all(name.startswith(".") for name in leftovers)
    # ... and the final name holds a complete earlier version.
    assert _version(kind, path) >= 1


@pytest.mark.slow
def test_sigkill_mid_export_leaves_no_version_folder(tmp_path):
    code = LIGHT_IMPORT + textwrap.dedent(
        """
        import os, sys, time
        from keras_ssl.export.versioned_export import versioned_export

        def slow_export(export_dir):
            with open(os.path.join(export_dir, "saved_model.pb"), "wb") as f:
                f.write(b"half")
            open(sys.argv[2], "w").close()
            time.sleep(3600)

        versioned_export(slow_export, sys.argv[1], "model")
        """
    )
    marker = tmp_path / "in-export"
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path / "saved_models"), str(marker)]
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert process.poll() is None, "the export child exited"
        assert time.monotonic() < deadline, "the export never started"
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    model_dir = tmp_path / "saved_models" / "model"
    names = os.listdir(model_dir)
    # Only the hidden temporary folder, which TF Serving ignores.
    assert len(names) == 1 and names[0].startswith(".tmp-1-")
    assert not [n for n in names if n.isdigit()]

    def fake_export(export_dir):
        with open(os.path.join(export_dir, "saved_model.pb"), "w") as f:
            f.write("complete")

    path = versioned_export(fake_export, tmp_path / "saved_models", "model")
    assert path == str(model_dir / "1")
