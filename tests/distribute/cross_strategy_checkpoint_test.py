"""Checkpoints move between one device and MirroredStrategy.

A tiny SimCLR trained on one device (this process) is restored under
MirroredStrategy over two logical CPUs (a fresh subprocess), trained one
more step there, saved, and restored here; both from `.keras` files
(weights, optimizer and random-generator state) and from `save_weights`
files. Restored values must be identical (exact equality), and training
must continue.
"""

import os

import keras
import numpy as np
import pytest
from distribute_helpers import (
    images,
    load_values,
    max_diff,
    run_script,
    save_values,
    tiny_simclr,
    weight_values,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("checkpoints")
    model = tiny_simclr(seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    model.fit(images(16), batch_size=16, epochs=1, verbose=0)
    model.save(folder / "one_device.keras")
    model.save_weights(folder / "one_device.weights.h5")
    save_values(folder / "one_device.npz", model)
    return folder


@pytest.fixture(scope="module")
def mirrored(folder):
    """The subprocess's checks of the one-device files (and its own files)."""
    return run_script("checkpoint_script.py", folder, cwd=folder)


def test_one_device_keras_file_restores_under_mirrored(mirrored):
    assert mirrored["replicas"] == 2
    restored = mirrored["keras_file"]
    assert restored["mirrored"], "variables must be mirrored after loading"
    assert restored["weights_diff"] == 0.0
    assert restored["optimizer_diff"] == 0.0
    assert restored["iterations"] == 1
    assert np.isfinite(restored["continued_loss"]).all()
    assert restored["moved"] > 0.0


def test_one_device_weights_file_restores_under_mirrored(mirrored):
    assert mirrored["weights_file_diff"] == 0.0


def test_mirrored_keras_file_restores_on_one_device(folder, mirrored):
    weights, optimizer = load_values(folder / "mirrored.npz")
    model = keras.saving.load_model(os.fspath(folder / "mirrored.keras"))
    assert max_diff(weight_values(model), weights) == 0.0
    assert max_diff(model.optimizer.variables, optimizer) == 0.0
    # One step on one device, then one under MirroredStrategy.
    assert int(model.optimizer.iterations.numpy()) == 2
    before = weight_values(model)
    history = model.fit(images(16, seed=1), batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert max_diff(weight_values(model), before) > 0.0


def test_mirrored_weights_file_restores_on_one_device(folder, mirrored):
    weights, _ = load_values(folder / "mirrored.npz")
    model = tiny_simclr(seed=1)
    assert max_diff(weight_values(model), weights) > 0.0  # differs before
    model.load_weights(folder / "mirrored.weights.h5")
    assert max_diff(weight_values(model), weights) == 0.0
