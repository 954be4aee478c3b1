"""Export a pretrained encoder for TF Serving, reload it, answer a request.

Pretrains a small model (or loads `--model`), exports it with
`keras_ssl.app.export` to `<export-dir>/<name>/<version>/` (the
TensorFlow Serving layout; the next free version, never overwriting one),
reloads the SavedModel with plain `tf.saved_model.load` as a serving client
would, lists its signatures, and answers a REST `:predict` request body the
way TF Serving does: the body documented in the README's "Serving an export"
section (`docs/requests/image_encoder.json` for a Fashion-MNIST image
encoder, the two-sentence `instances` body for a text encoder), or your own
with `--request`. The response is checked against the in-memory model.

    python examples/export_and_serve.py --method simclr --steps 100
    python examples/export_and_serve.py --method mlm --steps 100
    python examples/export_and_serve.py --model runs/finetune-<stamp>/classifier.keras
    python examples/export_and_serve.py --steps 2 --train-size 256 \\
        --model-kwargs '{"widths": [8, 16]}' --export-dir /tmp/saved_models

Then, with Docker: `docker run -p 8501:8501 -v
"$PWD/saved_models/<name>:/models/<name>" -e MODEL_NAME=<name>
tensorflow/serving` and `curl --data-binary @request.json
http://localhost:8501/v1/models/<name>:predict`.
"""

import argparse
import json
import os

import numpy as np
import tensorflow as tf

from keras_ssl.app import METHODS, export, pretrain
from keras_ssl.app.pretrain import TEXT_METHODS
from keras_ssl.datasets import load

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGE_REQUEST = os.path.join(HERE, "..", "docs", "requests", "image_encoder.json")
# The text request body of the README ("Serving an export", text encoder).
TEXT_REQUEST = {
    "signature_name": "serving_default",
    "instances": [
        {"texts": "a small cat sat on the mat"},
        {"texts": "Birds FLY over the sea"},
    ],
}


def describe_signatures(loaded):
    """`saved_model_cli show --all`, in short: inputs and outputs per signature."""
    lines = []
    for name, function in sorted(loaded.signatures.items()):
        inputs = function.structured_input_signature[1]
        outputs = function.structured_outputs
        lines.append(f"signature {name!r}:")
        for kind, specs in (("input", inputs), ("output", outputs)):
            for key, spec in sorted(specs.items()):
                shape = [-1 if d is None else d for d in spec.shape.as_list()]
                lines.append(f"  {kind} {key}: {spec.dtype.name} {shape}")
    return "\n".join(lines)


def predict(loaded, body):
    """Answers a TF Serving REST `:predict` body with a loaded SavedModel.

    Both request formats: columnar `inputs` (a dict of named batches, or one
    batch for a one-input signature), answered with `outputs`; and row
    `instances` (one value or dict per example), answered with
    `predictions`. A one-output signature's response leaves out the name.
    """
    function = loaded.signatures[body.get("signature_name", "serving_default")]
    specs = function.structured_input_signature[1]
    if "instances" in body:
        instances = body["instances"]
        if all(isinstance(row, dict) for row in instances):
            batches = {key: [row[key] for row in instances] for key in specs}
        else:
            batches = {next(iter(specs)): instances}
    else:
        inputs = body["inputs"]
        batches = inputs if isinstance(inputs, dict) else {next(iter(specs)): inputs}
    tensors = {
        key: tf.constant(value, specs[key].dtype) for key, value in batches.items()
    }
    outputs = {key: value.numpy() for key, value in function(**tensors).items()}

    def to_json(array):
        if array.dtype == object:  # tf.string outputs come back as bytes
            return [v.decode("utf-8") for v in array.ravel()]
        return array.tolist()

    if "instances" in body:
        if len(outputs) == 1:
            return {"predictions": to_json(next(iter(outputs.values())))}
        rows = len(next(iter(outputs.values())))
        return {
            "predictions": [
                {key: to_json(value[i : i + 1])[0] for key, value in outputs.items()}
                for i in range(rows)
            ]
        }
    if len(outputs) == 1:
        return {"outputs": to_json(next(iter(outputs.values())))}
    return {"outputs": {key: to_json(value) for key, value in outputs.items()}}


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--method", default="simclr", choices=METHODS)
    parser.add_argument(
        "--model",
        default=None,
        help="a model.keras or classifier.keras to export (skips pretraining)",
    )
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--steps", type=int, default=100, help="steps per epoch")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--train-size", type=int, default=10000)
    parser.add_argument("--model-kwargs", default="{}", help="JSON, e.g. widths")
    parser.add_argument("--name", default=None, help="export name")
    parser.add_argument("--export-dir", default="saved_models")
    parser.add_argument("--output-dir", default="runs")
    parser.add_argument("--request", default=None, help="a JSON request body file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.model:
        model = args.model
        text = None  # told by the signatures below
    else:
        text = args.method in TEXT_METHODS
        if text:
            corpus = load("wordnet")
            corpus = corpus.subset(min(args.train_size, len(corpus)), args.seed)
        else:
            corpus = load("fashion_mnist", split="train")
            corpus = corpus.subset(args.train_size, seed=args.seed)
        result = pretrain(
            args.method,
            corpus,
            output_dir=args.output_dir,
            epochs=args.epochs,
            steps_per_epoch=args.steps,
            batch_size=args.batch_size,
            seed=args.seed,
            verbose=0,
            model_kwargs=json.loads(args.model_kwargs),
        )
        model = result["model"]
        print(f"pretrained {args.method}: {result['steps']} steps")

    name = args.name or f"{args.method}_example"
    path = export(model, name, args.export_dir)
    print(f"exported to {path}")

    # A client: plain TensorFlow, no keras_ssl needed. Text exports tokenize
    # in the graph with TensorFlow Text ops, registered by this import.
    import tensorflow_text  # noqa: F401

    loaded = tf.saved_model.load(path)
    print(describe_signatures(loaded))
    if args.request:
        body = json.load(open(args.request))
    else:
        inputs = loaded.signatures["serving_default"].structured_input_signature[1]
        text = "texts" in inputs
        body = TEXT_REQUEST if text else json.load(open(IMAGE_REQUEST))
    print("request:", json.dumps(body)[:200], "...")
    response = predict(loaded, body)
    shown = json.dumps(response, default=str)
    print("response:", shown[:400] + (" ..." if len(shown) > 400 else ""))

    # The same inputs through the in-memory model (an SSL model's
    # `predict` is its encoder's representation).
    difference = None
    if not isinstance(model, str) and body.get("signature_name") in (
        None,
        "serving_default",
    ):
        if "instances" in body:
            raw = [
                next(iter(row.values())) if isinstance(row, dict) else row
                for row in body["instances"]
            ]
        else:
            raw = body["inputs"]
            raw = next(iter(raw.values())) if isinstance(raw, dict) else raw
        raw = np.asarray(raw, dtype=object if text else "uint8")
        expected = model.predict(raw, verbose=0)
        served = np.asarray(next(iter(response.values())), dtype="float32")
        difference = float(np.max(np.abs(served - expected)))
        print(f"largest difference to the in-memory model: {difference:.2e}")
    return {"export_path": path, "response": response, "difference": difference}


if __name__ == "__main__":
    main()
