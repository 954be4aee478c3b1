"""Fine-tuned classifiers export with probability/label signatures and reload
in a fresh Python that cannot import keras_ssl."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.app import export
from keras_ssl.encoders import conv_encoder, transformer_encoder
from keras_ssl.evaluation import TaskClassifier, build_classifier
from keras_ssl.export import export_classifier, versioned_export
from keras_ssl.tokenizers import TextPreprocessor, train_word_piece_vocabulary

IMAGE_NAMES = ["shirt", "shoe", "bag"]
TEXT_NAMES = ["animal", "place"]
BATCHES = (1, 5)
CORPUS = [
    "a small cat sat on the mat",
    "the dog ran in the park",
    "birds fly over the sea",
    "a cat and a dog play",
    "the sea is blue and the sky is grey",
]
TEXTS = {
    1: ["a cat"],
    5: ["the small dog sat on the mat in the park", "Birds FLY", "zebra", "", "sea"],
}

# Run in a fresh interpreter (keras_ssl and keras_hub blocked). Writes
# report.json (signatures, non-core ops) and the outputs of each signature.
RELOAD_SCRIPT = """
import json

import numpy as np
import tensorflow as tf

{non_core_ops}

export_dir = {export_dir!r}
raw, prepared = {raw!r}, {prepared!r}
report = {{
    "non_core_ops": {{
        name: non_core_ops(export_dir, name) for name in ("serving_default", prepared)
    }}
}}
if {text!r}:
    import tensorflow_text  # noqa: F401  (the WordPiece ops of serving_default)
served = tf.saved_model.load(export_dir)
for name, signature in served.signatures.items():
    (spec,) = signature.structured_input_signature[1].values()
    report[name] = {{
        "inputs": sorted(signature.structured_input_signature[1]),
        "dtype": spec.dtype.name,
        "shape": spec.shape.as_list(),
        "outputs": {{
            key: [value.dtype.name, value.shape.as_list()]
            for key, value in signature.structured_outputs.items()
        }},
    }}
for batch in {batches!r}:
    for name, key, data in (
        ("serving_default", raw, np.load(f"raw_{{batch}}.npy", allow_pickle=True)),
        (prepared, {prepared_key!r}, np.load(f"prepared_{{batch}}.npy")),
    ):
        if data.dtype == object:
            data = data.astype(str).tolist()
        out = served.signatures[name](**{{key: tf.constant(data)}})
        for output, value in out.items():
            value = value.numpy()
            if value.dtype == object:  # label_name: bytes, saved without pickle
                value = value.astype(bytes)
            np.save(f"{{name}}_{{output}}_{{batch}}.npy", value)
with open("report.json", "w") as f:
    json.dump(report, f)
"""


def _softmax(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.fixture(scope="module")
def image_classifier():
    keras.utils.set_random_seed(0)
    encoder = conv_encoder((8, 8, 1), widths=(4, 8))
    classifier = build_classifier(encoder, len(IMAGE_NAMES))
    classifier.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(0)
    x = rng.random((16, 8, 8, 1)).astype("float32")
    classifier.fit(x, rng.integers(0, 3, 16), batch_size=8, epochs=1, verbose=0)
    return TaskClassifier(classifier, label_names=IMAGE_NAMES)


@pytest.fixture(scope="module")
def text_classifier():
    keras.utils.set_random_seed(0)
    preprocessor = TextPreprocessor(
        train_word_piece_vocabulary(CORPUS, 40), sequence_length=8
    )
    encoder = transformer_encoder(
        preprocessor.vocabulary_size,
        8,
        hidden_dim=8,
        num_layers=1,
        num_heads=2,
        intermediate_dim=8,
    )
    classifier = build_classifier(encoder, len(TEXT_NAMES))
    return TaskClassifier(classifier, preprocessor, label_names=TEXT_NAMES)


def _reload(task, kind, work, fresh_python, non_core_ops_snippet):
    """Exports `task` (via the export workflow) and runs it in a fresh python."""
    export_dir = export(task, kind, base_dir=str(work / "models"))
    rng = np.random.default_rng(1)
    expected = {}
    for batch in BATCHES:
        if kind == "text":
            raw = np.array(TEXTS[batch], dtype=object)
            prepared = np.asarray(task.preprocessor(tf.constant(TEXTS[batch])))
            prepared = prepared.astype("int32")
        else:
            raw = rng.integers(0, 256, (batch, 8, 8, 1)).astype("uint8")
            prepared = raw.astype("float32") / 255.0
        np.save(work / f"raw_{batch}.npy", raw)
        np.save(work / f"prepared_{batch}.npy", prepared)
        expected[batch] = np.asarray(task(raw, training=False))
        np.testing.assert_allclose(  # raw and prepared inputs agree in memory
            expected[batch], np.asarray(task.classifier(prepared)), atol=1e-5
        )
    prepared_name = "classify_token_ids" if kind == "text" else "classify_prepared"
    fresh_python(
        RELOAD_SCRIPT.format(
            non_core_ops=non_core_ops_snippet,
            export_dir=export_dir,
            raw="texts" if kind == "text" else "images",
            prepared=prepared_name,
            prepared_key="token_ids" if kind == "text" else "images",
            text=kind == "text",
            batches=BATCHES,
        ),
        cwd=work,
    )
    report = json.loads((work / "report.json").read_text())
    return export_dir, report, expected, prepared_name


@pytest.fixture(scope="module")
def image_export(
    image_classifier, tmp_path_factory, fresh_python, non_core_ops_snippet
):
    work = tmp_path_factory.mktemp("image_classifier")
    return work, *_reload(
        image_classifier, "image", work, fresh_python, non_core_ops_snippet
    )


@pytest.fixture(scope="module")
def text_export(text_classifier, tmp_path_factory, fresh_python, non_core_ops_snippet):
    work = tmp_path_factory.mktemp("text_classifier")
    return work, *_reload(
        text_classifier, "text", work, fresh_python, non_core_ops_snippet
    )


OUTPUTS = {"probabilities", "label", "label_name"}


def test_image_signatures(image_export):
    work, export_dir, report, _, prepared = image_export
    assert export_dir == str(work / "models" / "image" / "1")
    assert prepared == "classify_prepared"
    for name, dtype in (("serving_default", "uint8"), (prepared, "float32")):
        assert report[name]["inputs"] == ["images"]
        assert report[name]["dtype"] == dtype
        assert report[name]["shape"] == [None, 8, 8, 1]
        assert report[name]["outputs"] == {
            "probabilities": ["float32", [None, 3]],
            "label": ["int64", [None]],
            "label_name": ["string", [None]],
        }
    assert report["non_core_ops"] == {"serving_default": [], prepared: []}


def test_text_signatures(text_export):
    _, _, report, _, prepared = text_export
    assert report["serving_default"]["inputs"] == ["texts"]
    assert report["serving_default"]["dtype"] == "string"
    assert report["serving_default"]["shape"] == [None]
    assert report[prepared]["inputs"] == ["token_ids"]
    assert report[prepared]["dtype"] == "int32"
    assert report[prepared]["shape"] == [None, 8]
    for name in ("serving_default", prepared):
        assert set(report[name]["outputs"]) == OUTPUTS
    # Token ids need core TensorFlow only; raw text needs the TF Text ops.
    assert report["non_core_ops"][prepared] == []
    assert report["non_core_ops"]["serving_default"]


@pytest.mark.parametrize("kind", ["image", "text"])
@pytest.mark.parametrize("batch", BATCHES)
def test_reloaded_outputs_match_in_memory_classifier(
    kind, batch, image_export, text_export
):
    work, _, _, expected, prepared = image_export if kind == "image" else text_export
    names = IMAGE_NAMES if kind == "image" else TEXT_NAMES
    want = _softmax(expected[batch].astype("float64"))
    for signature in ("serving_default", prepared):
        probabilities = np.load(work / f"{signature}_probabilities_{batch}.npy")
        label = np.load(work / f"{signature}_label_{batch}.npy")
        label_name = np.load(work / f"{signature}_label_name_{batch}.npy")
        assert probabilities.dtype == np.float32 and label.dtype == np.int64
        assert probabilities.shape == (batch, len(names))
        np.testing.assert_allclose(probabilities, want, atol=1e-5)
        np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)
        np.testing.assert_array_equal(label, probabilities.argmax(-1))
        np.testing.assert_array_equal(label, expected[batch].argmax(-1))
        assert [n.decode() for n in label_name] == [names[i] for i in label]


def test_bare_classifier_without_label_names(image_classifier, tmp_path):
    path = export_classifier(image_classifier.classifier, tmp_path / "bare")
    served = tf.saved_model.load(path)
    out = served.signatures["serving_default"](images=tf.zeros((2, 8, 8, 1), tf.uint8))
    assert set(out) == {"probabilities", "label"}


def test_versions_never_overwrite(image_classifier, tmp_path):
    base = tmp_path / "models"
    first = versioned_export(
        export_classifier, base, "clf", classifier=image_classifier
    )
    with pytest.raises(FileExistsError, match="already exists"):
        versioned_export(export_classifier, base, "clf", 1, classifier=image_classifier)
    assert first.endswith("1") and sorted(p.name for p in (base / "clf").iterdir()) == [
        "1"
    ]


def test_bad_arguments(image_classifier, text_classifier, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="`classifier`.*Received"):
        export_classifier("model", out)
    one_class = build_classifier(conv_encoder((8, 8, 1), widths=(4,)), 2)
    one_class = keras.Model(one_class.input, one_class.output[:, :1])
    with pytest.raises(ValueError, match="at least 2 classes"):
        export_classifier(one_class, out)
    with pytest.raises(ValueError, match="label_names"):
        export_classifier(image_classifier, out, label_names=["a", "b"])
    with pytest.raises(ValueError, match="preprocessor"):
        export_classifier(text_classifier.classifier, out)  # text needs one
    with pytest.raises(ValueError, match="preprocessor"):
        export_classifier(image_classifier, out, preprocessor="vocab.txt")
    longer = TextPreprocessor(text_classifier.preprocessor.vocabulary, 16)
    with pytest.raises(ValueError, match="sequence length"):
        export_classifier(text_classifier.classifier, out, preprocessor=longer)
    assert not out.exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not empty"):
        export_classifier(image_classifier, tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]


def test_task_classifier_checks(image_classifier, text_classifier):
    with pytest.raises(ValueError, match="at least 2 classes"):
        one = keras.Model(
            image_classifier.classifier.input,
            image_classifier.classifier.output[:, :1],
        )
        TaskClassifier(one)
    with pytest.raises(ValueError, match="3 distinct strings"):
        TaskClassifier(image_classifier.classifier, label_names=["a", "a", "b"])
    with pytest.raises(ValueError, match="token ids"):
        TaskClassifier(
            image_classifier.classifier, preprocessor=text_classifier.preprocessor
        )
    with pytest.raises(ValueError, match="takes images"):
        image_classifier(np.array(["a cat"], dtype=object))
