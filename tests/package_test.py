"""Package-level behaviour: version, backend guard, console script."""

import os
import subprocess
import sys

import keras_ssl


def test_version():
    assert keras_ssl.__version__.count(".") == 2


def test_other_backend_is_refused_with_a_clear_error():
    env = {**os.environ, "KERAS_BACKEND": "numpy"}
    proc = subprocess.run(
        [sys.executable, "-c", "import keras_ssl"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "ImportError: keras_ssl requires the TensorFlow backend" in proc.stderr
    assert "KERAS_BACKEND='numpy'" in proc.stderr


def test_console_script_help():
    script = os.path.join(os.path.dirname(sys.executable), "keras-ssl")
    proc = subprocess.run(
        [script, "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0
    for command in ("pretrain", "probe", "export", "demo"):
        assert command in proc.stdout


def _python(code, env=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


PUBLIC = (
    "augmentation",
    "callbacks",
    "checks",
    "datasets",
    "distribute",
    "encoders",
    "evaluation",
    "export",
    "layers",
    "losses",
    "metrics",
    "models",
    "recipes",
    "schedules",
    "tokenizers",
    "visualization",
)


def test_import_gives_the_public_api_as_attributes():
    code = f"""
import sys
import keras_ssl
for name in {PUBLIC!r}:
    assert getattr(keras_ssl, name).__name__ == "keras_ssl." + name, name
# The application and the optional keras-tuner search load on demand.
loaded = sorted(m for m in sys.modules
                if m.startswith(("keras_ssl.app", "keras_ssl.tuning", "keras_tuner")))
assert not loaded, loaded
print("ok")
"""
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")
    assert set(PUBLIC) <= set(keras_ssl.__all__)


def test_saved_model_loads_right_after_import_keras_ssl(tmp_path):
    path = tmp_path / "simclr.keras"
    save = f"""
import keras
from keras_ssl.encoders import conv_encoder
from keras_ssl.models import SimCLR

keras.utils.set_random_seed(0)
model = SimCLR(conv_encoder((8, 8, 1), widths=(4,)), seed=0)
model.save({str(path)!r})
"""
    load = f"""
import keras
import numpy as np
import keras_ssl

model = keras.saving.load_model({str(path)!r})
print(type(model).__name__, model(np.zeros((2, 8, 8, 1), "uint8")).shape)
"""
    saved = _python(save)
    assert saved.returncode == 0, saved.stderr[-3000:]
    loaded = _python(load)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert loaded.stdout.strip().splitlines()[-1] == "SimCLR (2, 4)"


def test_import_sets_no_environment_variable_but_the_backend():
    # The third-party libraries keras_ssl imports first (TensorFlow sets a
    # few variables of its own), then keras_ssl itself: only KERAS_BACKEND
    # may change.
    code = """
import json
import os

import keras
import keras_hub
import matplotlib
import numpy as np
import sklearn
import tensorflow as tf
import tensorflow_text

before = dict(os.environ)
import keras_ssl
after = dict(os.environ)
print(json.dumps(sorted(
    k for k in set(before) | set(after) if before.get(k) != after.get(k)
)))
"""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL")
    }
    proc = _python(code, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == '["KERAS_BACKEND"]'


def test_only_the_console_script_quiets_tensorflow_logs():
    assert keras_ssl._is_console_script("/venv/bin/keras-ssl")
    assert keras_ssl._is_console_script("C:\\venv\\Scripts\\keras-ssl.exe")
    for argv0 in ("", "-c", "/venv/bin/python", "train.py", "keras-ssl-tools"):
        assert not keras_ssl._is_console_script(argv0)
