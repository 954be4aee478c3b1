"""The README's serving docs match real exports.

README.md's "Serving an export" section marks

- each `saved_model_cli show --all` listing with `<!-- saved_model_cli: NAME -->`
  (the next fenced block), and
- each TF Serving REST `:predict` request body with `<!-- request: NAME -->`
  (the next fenced `json` block),

for NAME in `image_encoder`, `text_encoder` and `classifier`. `docs/requests/`
holds complete 28×28 request bodies, `NAME.json`, that the README points to.

Each NAME is exported here with `keras_ssl.app.export` from a tiny model
with the shapes the docs state: 28×28×1 images and a 128-d embedding for the
image encoder (as `make demo`), 32 tokens and a 64-d embedding for the text
encoder (as `make demo`), 10 Fashion-MNIST classes for the classifier. The
README's image request bodies are for the same models built on 4×4 images
(a 28×28 image does not fit on a screen); the README says so.

The checks: every listing equals the export's signature defs (names, dtypes,
shapes, tensor names); every request body names an existing signature, gives
exactly its input names, converts to its dtypes and shapes the way TF Serving
maps JSON onto tensors, and calling the signature on it returns the output
keys that the README's listing documents, one row per input row.
"""

import json
import pathlib
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import saved_model_pb2

from keras_ssl.app import export
from keras_ssl.datasets.fashion_mnist import CLASS_NAMES
from keras_ssl.encoders import conv_encoder, transformer_encoder
from keras_ssl.evaluation import TaskClassifier, build_classifier
from keras_ssl.models import MaskedLanguageModel, SimCLR
from keras_ssl.tokenizers import TextPreprocessor, train_word_piece_vocabulary

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
REQUESTS = ROOT / "docs" / "requests"
NAMES = ("image_encoder", "text_encoder", "classifier")
DOCS_IMAGE_SIZE = 28  # listings and docs/requests/*.json
README_IMAGE_SIZE = 4  # the image request bodies shown in the README
SEQUENCE_LENGTH = 32
CORPUS = [
    "a small cat sat on the mat",
    "the dog ran in the park",
    "birds fly over the sea",
    "a cat and a dog play",
    "the sea is blue and the sky is grey",
]


# Tiny models with the documented shapes (untrained: only shapes matter). ---


def image_encoder_model(size):
    keras.utils.set_random_seed(0)
    encoder = conv_encoder((size, size, 1), widths=(4, 8), embedding_dim=128)
    return SimCLR(encoder, projection_dim=4, projection_hidden_dims=(8,), seed=0)


def text_encoder_model(size=None):
    keras.utils.set_random_seed(0)
    vocabulary = train_word_piece_vocabulary(CORPUS, 40)
    preprocessor = TextPreprocessor(vocabulary, sequence_length=SEQUENCE_LENGTH)
    encoder = transformer_encoder(
        preprocessor.vocabulary_size,
        SEQUENCE_LENGTH,
        hidden_dim=64,
        num_layers=1,
        num_heads=2,
        intermediate_dim=64,
    )
    return MaskedLanguageModel(encoder, preprocessor, seed=0)


def classifier_model(size):
    keras.utils.set_random_seed(0)
    encoder = conv_encoder((size, size, 1), widths=(4, 8))
    classifier = build_classifier(encoder, len(CLASS_NAMES))
    return TaskClassifier(classifier, label_names=list(CLASS_NAMES))


BUILDERS = {
    "image_encoder": image_encoder_model,
    "text_encoder": text_encoder_model,
    "classifier": classifier_model,
}


def export_tiny(name, size, base_dir):
    """Exports the tiny `name` model with the export workflow; returns its path."""
    model = BUILDERS[name](size)
    return export(model, f"{name}_{size}", base_dir=str(base_dir), version=1)


# The README. ----------------------------------------------------------------


def marked_blocks(kind, language=None):
    """`{name: text}` of the fenced blocks right after `<!-- kind: name -->`."""
    text = README.read_text(encoding="utf-8")
    fence = re.escape(language) if language else r"[\w-]*"
    pattern = re.compile(
        rf"^[^\n]*<!--\s*{kind}:\s*([\w.-]+)\s*-->[^\n]*\n```{fence}\n(.*?)^```[ \t]*$",
        re.MULTILINE | re.DOTALL,
    )
    blocks = {}
    for match in pattern.finditer(text):
        name, block = match.groups()
        assert name not in blocks, f"README marks `{kind}: {name}` twice"
        blocks[name] = block
    assert len(blocks) == text.count(f"<!-- {kind}:"), (
        f"a `<!-- {kind}: NAME -->` marker in README.md is not followed "
        f"directly by a fenced {language or ''} block"
    )
    return blocks


_SIGNATURE = re.compile(r"^signature_def\['([^']+)'\]:$")
_TENSOR = re.compile(r"^\s*(inputs|outputs)\['([^']+)'\] tensor_info:$")
_FIELD = re.compile(r"^\s*(dtype|shape|name): (.+)$")


def parse_listing(block):
    """`{signature: {"inputs"/"outputs": {key: (dtype, shape, name)}}}`."""
    signatures, tensor = {}, None
    for line in block.splitlines():
        if m := _SIGNATURE.match(line):
            current = signatures.setdefault(m[1], {"inputs": {}, "outputs": {}})
            tensor = None
        elif m := _TENSOR.match(line):
            tensor = current[m[1]].setdefault(m[2], {})
        elif (m := _FIELD.match(line)) and tensor is not None:
            tensor[m[1]] = m[2]
    return {
        name: {
            io: {k: (t["dtype"], t["shape"], t["name"]) for k, t in tensors.items()}
            for io, tensors in sig.items()
        }
        for name, sig in signatures.items()
    }


def export_listing(export_dir):
    """The same fields read from `saved_model.pb`, as `saved_model_cli` prints them."""
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((pathlib.Path(export_dir) / "saved_model.pb").read_bytes())
    (meta_graph,) = saved.meta_graphs
    listing = {}
    for name, sig in meta_graph.signature_def.items():
        if name == "__saved_model_init_op":
            continue
        listing[name] = {
            io: {
                key: (
                    types_pb2.DataType.Name(info.dtype),
                    "(" + ", ".join(str(d.size) for d in info.tensor_shape.dim) + ")",
                    info.name,
                )
                for key, info in getattr(sig, io).items()
            }
            for io in ("inputs", "outputs")
        }
    return listing


# TF Serving's JSON → tensor mapping. ---------------------------------------


def _leaves(value):
    if isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def request_inputs(body, input_names):
    """`{input name: JSON value}` of a `:predict` body (row or columnar format)."""
    assert isinstance(body, dict), "a :predict body is a JSON object"
    keys = set(body) - {"signature_name"}
    assert keys in ({"instances"}, {"inputs"}), (
        f"a :predict body has `instances` or `inputs` (not both). Got: {sorted(body)}"
    )
    if "inputs" in body:  # columnar: one tensor, or a map name -> tensor
        value = body["inputs"]
        if isinstance(value, dict):
            return value
        assert len(input_names) == 1, "an unnamed tensor needs a 1-input signature"
        return {input_names[0]: value}
    rows = body["instances"]  # row format: a list of instances
    assert isinstance(rows, list) and rows, "`instances` is a non-empty list"
    if not all(isinstance(row, dict) for row in rows):
        assert len(input_names) == 1, "unnamed instances need a 1-input signature"
        return {input_names[0]: rows}
    names = set(rows[0])
    assert all(set(row) == names for row in rows), "instances with different keys"
    return {name: [row[name] for row in rows] for name in names}


def to_tensor(value, spec):
    """Converts a JSON value like TF Serving does; fails on what it would reject."""
    leaves = list(_leaves(value))
    assert leaves, f"`{spec.name}` is empty"
    if spec.dtype == tf.string:
        assert all(isinstance(v, str) for v in leaves), f"`{spec.name}`: strings"
        array = np.array(value, dtype=object)
    elif spec.dtype.is_integer:
        assert all(isinstance(v, int) and not isinstance(v, bool) for v in leaves), (
            f"`{spec.name}` is {spec.dtype.name}: JSON integers only"
        )
        lo, hi = spec.dtype.min, spec.dtype.max
        assert all(lo <= v <= hi for v in leaves), (
            f"`{spec.name}` is {spec.dtype.name}: values in [{lo}, {hi}]"
        )
        array = np.array(value, dtype=spec.dtype.as_numpy_dtype)
    else:
        assert spec.dtype.is_floating, spec.dtype
        assert all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in leaves
        ), f"`{spec.name}` is {spec.dtype.name}: JSON numbers only"
        array = np.array(value, dtype=spec.dtype.as_numpy_dtype)
    assert array.dtype != object or spec.dtype == tf.string, "ragged nested lists"
    assert spec.shape.is_compatible_with(array.shape), (
        f"`{spec.name}`: shape {array.shape} does not fit the signature's "
        f"{spec.shape} ({spec.dtype.name})"
    )
    return tf.constant(array, dtype=spec.dtype)


# Fixtures. ------------------------------------------------------------------


@pytest.fixture(scope="module")
def listings():
    blocks = marked_blocks("saved_model_cli")
    assert sorted(blocks) == sorted(NAMES)
    return {name: parse_listing(block) for name, block in blocks.items()}


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Exports on demand: `exports(name, size)` → SavedModel path."""
    base, done = tmp_path_factory.mktemp("readme_exports"), {}

    def get(name, size):
        if (name, size) not in done:
            done[name, size] = export_tiny(name, size, base)
        return done[name, size]

    return get


def _request_cases():
    cases = [
        pytest.param(name, "README.md", README_IMAGE_SIZE, id=f"readme-{name}")
        for name in NAMES
    ]
    cases += [
        pytest.param(name, f"docs/requests/{name}.json", DOCS_IMAGE_SIZE, id=name)
        for name in ("image_encoder", "classifier")
    ]
    return cases


# Tests. ---------------------------------------------------------------------


def test_readme_marks_each_export_once():
    assert sorted(marked_blocks("request", "json")) == sorted(NAMES)
    assert sorted(marked_blocks("saved_model_cli")) == sorted(NAMES)
    for path in REQUESTS.glob("*.json"):
        assert path.stem in NAMES, f"{path} names no documented export"


@pytest.mark.parametrize("name", NAMES)
def test_saved_model_cli_listing_matches_export(name, listings, exports):
    assert listings[name] == export_listing(exports(name, DOCS_IMAGE_SIZE))


@pytest.mark.parametrize(("name", "source", "size"), _request_cases())
def test_request_body_maps_onto_signature(name, source, size, listings, exports):
    if source == "README.md":
        body = json.loads(marked_blocks("request", "json")[name])
    else:
        body = json.loads((ROOT / source).read_text(encoding="utf-8"))
    if name == "text_encoder":
        import tensorflow_text  # noqa: F401  (WordPiece ops of serving_default)
    served = tf.saved_model.load(exports(name, size))

    signature_name = body.get("signature_name", "serving_default")
    assert signature_name in served.signatures, (
        f"{source}: no signature {signature_name!r} in {list(served.signatures)}"
    )
    signature = served.signatures[signature_name]
    specs = signature.structured_input_signature[1]
    values = request_inputs(body, sorted(specs))
    assert sorted(values) == sorted(specs), f"{source}: input names"
    inputs = {key: to_tensor(value, specs[key]) for key, value in values.items()}

    outputs = signature(**inputs)
    documented = listings[name][signature_name]
    assert sorted(outputs) == sorted(documented["outputs"])
    assert sorted(values) == sorted(documented["inputs"])
    (batch,) = {int(t.shape[0]) for t in inputs.values()}
    for key, value in outputs.items():
        assert value.shape[0] == batch, f"{key}: one row per input row"
        if value.dtype != tf.string:
            assert np.all(np.isfinite(value.numpy())), f"{key}: finite values"
    if "label_name" in outputs:
        names = [n.decode() for n in outputs["label_name"].numpy()]
        assert names == [CLASS_NAMES[i] for i in outputs["label"].numpy()]
