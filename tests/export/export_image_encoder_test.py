import json

import keras
import numpy as np
import pytest

from keras_ssl.encoders import conv_encoder
from keras_ssl.export import export_image_encoder, versioned_export
from keras_ssl.models import SimCLR

IMAGE_SHAPE = (28, 28, 1)

RELOAD_SCRIPT = """
import json
import os

import numpy as np
import tensorflow as tf

{non_core_ops}

export_dir = {export_dir!r}
report = {{
    "non_core_ops": {{
        name: non_core_ops(export_dir, name)
        for name in ("serving_default", "embed_prepared")
    }}
}}
served = tf.saved_model.load(export_dir)
for name, signature in served.signatures.items():
    (spec,) = signature.structured_input_signature[1].values()
    report[name] = {{
        "inputs": sorted(signature.structured_input_signature[1]),
        "dtype": spec.dtype.name,
        "shape": spec.shape.as_list(),
        "outputs": sorted(signature.structured_outputs),
    }}
for batch in (1, 5):
    images = np.load(f"images_{{batch}}.npy")
    out = served.signatures["serving_default"](images=tf.constant(images))
    np.save(f"serving_default_{{batch}}.npy", out["embedding"].numpy())
    prepared = (images / 255.0).astype("float32")
    out = served.signatures["embed_prepared"](images=tf.constant(prepared))
    np.save(f"embed_prepared_{{batch}}.npy", out["embedding"].numpy())
with open("report.json", "w") as f:
    json.dump(report, f)
"""


@pytest.fixture(scope="module")
def simclr():
    keras.utils.set_random_seed(0)
    model = SimCLR(
        conv_encoder(IMAGE_SHAPE, widths=(4, 8)),
        projection_dim=4,
        projection_hidden_dims=(8,),
        seed=0,
    )
    model.compile(optimizer="adam")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(8, *IMAGE_SHAPE), dtype="uint8")
    # One step, so the batch-norm moving statistics are not the defaults.
    model.fit(images, batch_size=8, epochs=1, verbose=0)
    return model


@pytest.fixture(scope="module")
def reloaded(simclr, tmp_path_factory, fresh_python, non_core_ops_snippet):
    """Exports `simclr` with versioned_export, reloads it in a fresh python."""
    work = tmp_path_factory.mktemp("image_export")
    export_dir = versioned_export(
        export_image_encoder, work / "models", "simclr", encoder=simclr
    )
    rng = np.random.default_rng(1)
    images = {}
    for batch in (1, 5):
        images[batch] = rng.integers(0, 256, (batch, *IMAGE_SHAPE), dtype="uint8")
        np.save(work / f"images_{batch}.npy", images[batch])
    fresh_python(
        RELOAD_SCRIPT.format(export_dir=export_dir, non_core_ops=non_core_ops_snippet),
        cwd=work,
        # Core TensorFlow only: no keras at all, no TF Text ops.
        blocked=("keras_ssl", "keras_hub", "keras", "tf_keras", "tensorflow_text"),
    )
    return work, export_dir, images


def test_export_lands_in_versioned_folder(reloaded):
    work, export_dir, _ = reloaded
    assert export_dir == str(work / "models" / "simclr" / "1")
    assert (work / "models" / "simclr" / "1" / "saved_model.pb").is_file()
    assert [p.name for p in (work / "models" / "simclr").iterdir()] == ["1"]


def test_signatures(reloaded):
    work, _, _ = reloaded
    report = json.loads((work / "report.json").read_text())
    assert report["serving_default"] == {
        "inputs": ["images"],
        "dtype": "uint8",
        "shape": [None, *IMAGE_SHAPE],
        "outputs": ["embedding"],
    }
    assert report["embed_prepared"] == {
        "inputs": ["images"],
        "dtype": "float32",
        "shape": [None, *IMAGE_SHAPE],
        "outputs": ["embedding"],
    }
    assert report["non_core_ops"] == {"serving_default": [], "embed_prepared": []}


@pytest.mark.parametrize("batch", [1, 5])
def test_reloaded_outputs_match_in_memory_model(simclr, reloaded, batch):
    work, _, images = reloaded
    expected = np.asarray(simclr(images[batch], training=False))
    prepared = (images[batch] / 255.0).astype("float32")
    expected_prepared = np.asarray(simclr.encoder(prepared, training=False))
    assert expected.shape == (batch, 8)
    served = np.load(work / f"serving_default_{batch}.npy")
    served_prepared = np.load(work / f"embed_prepared_{batch}.npy")
    assert served.dtype == np.float32
    np.testing.assert_allclose(served, expected, atol=1e-5)
    np.testing.assert_allclose(served_prepared, expected_prepared, atol=1e-5)


def test_accepts_bare_encoder_and_explicit_shape(simclr, tmp_path):
    path = export_image_encoder(
        simclr.encoder, tmp_path / "bare", image_shape=IMAGE_SHAPE
    )
    assert path == str(tmp_path / "bare")
    assert (tmp_path / "bare" / "saved_model.pb").is_file()


def test_refuses_non_empty_export_dir(simclr, tmp_path):
    (tmp_path / "old.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not empty"):
        export_image_encoder(simclr, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["old.txt"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"encoder": "not a model"}, "encoder"),
        ({"image_shape": (32, 32, 1)}, "image_shape"),
        ({"image_shape": (28, 28)}, "image_shape"),
        ({"image_shape": (28, 28, 0)}, "image_shape"),
        ({"export_dir": 3}, "export_dir"),
    ],
)
def test_bad_arguments(simclr, tmp_path, kwargs, match):
    arguments = {"encoder": simclr, "export_dir": tmp_path / "out"}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=f"`{match}`.*Received"):
        export_image_encoder(**arguments)
    assert not (tmp_path / "out").exists()


def test_requires_image_shape_for_unknown_input_size(tmp_path):
    encoder = conv_encoder((None, None, 1), widths=(4,))
    with pytest.raises(ValueError, match="`image_shape` is required"):
        export_image_encoder(encoder, tmp_path / "out")


def test_rejects_encoder_without_vector_output(tmp_path):
    inputs = keras.Input(IMAGE_SHAPE)
    encoder = keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs))
    with pytest.raises(ValueError, match=r"\(batch, dim\)"):
        export_image_encoder(encoder, tmp_path / "out")
