"""Smoke test: examples/export_and_serve.py answers the README's request bodies."""

import importlib.util
import json
import os

import pytest

EXAMPLE = os.path.join(
    os.path.dirname(__file__), "..", "..", "examples", "export_and_serve.py"
)


def load_example():
    spec = importlib.util.spec_from_file_location("export_and_serve", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_image_export_answers_the_documented_request(tmp_path, capsys):
    exports = tmp_path / "exports"
    result = load_example().main(
        ["--steps", "2", "--batch-size", "32", "--train-size", "256"]
        + ["--model-kwargs", json.dumps({"widths": [8, 16]})]
        + ["--output-dir", str(tmp_path / "runs"), "--export-dir", str(exports)]
    )
    assert result["export_path"] == str(exports / "simclr_example" / "1")
    # docs/requests/image_encoder.json: one image, columnar `inputs`, one
    # output, so TF Serving's response is {"outputs": [[16 floats]]}.
    (embedding,) = result["response"]["outputs"]
    assert len(embedding) == 16
    assert result["difference"] < 1e-4
    out = capsys.readouterr().out
    assert "signature 'serving_default':" in out
    assert "input images: uint8 [-1, 28, 28, 1]" in out
    assert "signature 'embed_prepared':" in out


@pytest.mark.slow
def test_text_export_answers_the_documented_request(tmp_path):
    tiny = {
        "sequence_length": 16,
        "vocabulary_size": 300,
        "hidden_dim": 16,
        "num_layers": 1,
        "intermediate_dim": 32,
    }
    result = load_example().main(
        ["--method", "mlm", "--steps", "2", "--batch-size", "32"]
        + ["--train-size", "512", "--model-kwargs", json.dumps(tiny)]
        + ["--output-dir", str(tmp_path / "runs")]
        + ["--export-dir", str(tmp_path / "exports")]
    )
    # The README's row-format body: two texts -> {"predictions": [2 x 16]}.
    predictions = result["response"]["predictions"]
    assert len(predictions) == 2 and all(len(p) == 16 for p in predictions)
    assert result["difference"] < 1e-4


def test_predict_follows_the_rest_formats(tmp_path):
    """Row and columnar bodies, one and several outputs, string outputs."""
    import tensorflow as tf

    class Classifier(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.uint8)])
        def classify(self, images):
            scores = tf.cast(images, tf.float32)
            label = tf.argmax(scores, axis=1)
            return {
                "probabilities": tf.nn.softmax(scores),
                "label": label,
                "label_name": tf.gather(tf.constant(["cat", "dog"]), label),
            }

        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
        def embed(self, images):
            return {"embedding": images * 2.0}

    module = Classifier()
    path = str(tmp_path / "model")
    tf.saved_model.save(
        module,
        path,
        signatures={"serving_default": module.classify, "embed": module.embed},
    )
    loaded = tf.saved_model.load(path)
    predict = load_example().predict

    columnar = predict(loaded, {"inputs": {"images": [[0, 9], [9, 0]]}})
    assert columnar["outputs"]["label"] == [1, 0]
    assert columnar["outputs"]["label_name"] == ["dog", "cat"]
    assert len(columnar["outputs"]["probabilities"]) == 2
    rows = predict(loaded, {"instances": [{"images": [0, 9]}, {"images": [9, 0]}]})
    assert [r["label_name"] for r in rows["predictions"]] == ["dog", "cat"]
    assert rows["predictions"][0]["label"] == 1
    assert len(rows["predictions"][0]["probabilities"]) == 2
    # One output: TF Serving leaves out its name; bare values for one input.
    one = predict(loaded, {"signature_name": "embed", "inputs": [[1.0, 2.0]]})
    assert one == {"outputs": [[2.0, 4.0]]}
    one = predict(loaded, {"signature_name": "embed", "instances": [[1.0, 2.0]]})
    assert one == {"predictions": [[2.0, 4.0]]}
