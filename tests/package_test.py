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
