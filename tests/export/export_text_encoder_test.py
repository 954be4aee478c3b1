import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.encoders import transformer_encoder
from keras_ssl.export import export_text_encoder, versioned_export
from keras_ssl.models import MaskedLanguageModel
from keras_ssl.tokenizers import TextPreprocessor, train_word_piece_vocabulary

SEQUENCE_LENGTH = 8
CORPUS = [
    "a small cat sat on the mat",
    "the dog ran in the park",
    "birds fly over the sea",
    "a cat and a dog play",
    "the sea is blue and the sky is grey",
]
TEXTS = {
    1: ["a cat"],
    5: [
        "the small dog sat on the mat in the park by the sea",  # truncated
        "Birds FLY",
        "zebra xylophone",  # word pieces and [UNK]
        "",
        "the cat",
    ],
}

RELOAD_SCRIPT = """
import json
import os

import numpy as np
import tensorflow as tf

{non_core_ops}

export_dir = {export_dir!r}
texts = {texts!r}
# Checked before tensorflow_text registers its ops.
report = {{
    "non_core_ops": {{
        name: non_core_ops(export_dir, name)
        for name in ("serving_default", "embed_token_ids")
    }}
}}
import tensorflow_text  # noqa: F401  (the WordPiece ops of serving_default)

served = tf.saved_model.load(export_dir)
for name, signature in served.signatures.items():
    (spec,) = signature.structured_input_signature[1].values()
    report[name] = {{
        "inputs": sorted(signature.structured_input_signature[1]),
        "dtype": spec.dtype.name,
        "shape": spec.shape.as_list(),
        "outputs": sorted(signature.structured_outputs),
    }}
for batch, batch_texts in texts.items():
    out = served.signatures["serving_default"](texts=tf.constant(batch_texts))
    np.save(f"serving_default_{{batch}}.npy", out["embedding"].numpy())
    ids = np.load(f"token_ids_{{batch}}.npy")
    out = served.signatures["embed_token_ids"](token_ids=tf.constant(ids))
    np.save(f"embed_token_ids_{{batch}}.npy", out["embedding"].numpy())
with open("report.json", "w") as f:
    json.dump(report, f)
"""


@pytest.fixture(scope="module")
def preprocessor():
    vocabulary = train_word_piece_vocabulary(CORPUS, 40)
    return TextPreprocessor(vocabulary, sequence_length=SEQUENCE_LENGTH)


@pytest.fixture(scope="module")
def mlm(preprocessor):
    keras.utils.set_random_seed(0)
    encoder = transformer_encoder(
        preprocessor.vocabulary_size,
        SEQUENCE_LENGTH,
        hidden_dim=8,
        num_layers=1,
        num_heads=2,
        intermediate_dim=8,
    )
    model = MaskedLanguageModel(encoder, preprocessor, seed=0)
    model.compile(optimizer="adam")
    model.fit(preprocessor(tf.constant(CORPUS)), batch_size=5, epochs=1, verbose=0)
    return model


@pytest.fixture(scope="module")
def reloaded(mlm, tmp_path_factory, fresh_python, non_core_ops_snippet):
    """Exports `mlm` with versioned_export, reloads it in a fresh python."""
    work = tmp_path_factory.mktemp("text_export")
    export_dir = versioned_export(
        export_text_encoder, work / "models", "mlm", model_or_encoder=mlm
    )
    rng = np.random.default_rng(0)
    token_ids = {}
    for batch in (1, 5):
        ids = rng.integers(5, mlm.preprocessor.vocabulary_size, (batch, 8))
        ids[:, 0] = mlm.preprocessor.cls_id
        ids[:, -2:] = mlm.preprocessor.pad_id  # some padding
        token_ids[batch] = ids.astype("int32")
        np.save(work / f"token_ids_{batch}.npy", token_ids[batch])
    fresh_python(
        RELOAD_SCRIPT.format(
            export_dir=export_dir, texts=TEXTS, non_core_ops=non_core_ops_snippet
        ),
        cwd=work,
    )
    return work, export_dir, token_ids


def test_export_lands_in_versioned_folder(reloaded):
    work, export_dir, _ = reloaded
    assert export_dir == str(work / "models" / "mlm" / "1")
    assert (work / "models" / "mlm" / "1" / "saved_model.pb").is_file()


def test_signatures(reloaded):
    work, _, _ = reloaded
    report = json.loads((work / "report.json").read_text())
    assert report["serving_default"] == {
        "inputs": ["texts"],
        "dtype": "string",
        "shape": [None],
        "outputs": ["embedding"],
    }
    assert report["embed_token_ids"] == {
        "inputs": ["token_ids"],
        "dtype": "int32",
        "shape": [None, SEQUENCE_LENGTH],
        "outputs": ["embedding"],
    }
    # The prepared-input signature needs core TensorFlow only; the raw-text
    # one needs the TF Text WordPiece ops (which proves the check sees them).
    assert report["non_core_ops"]["embed_token_ids"] == []
    assert (
        "FastWordpieceTokenizeWithOffsets"
        in (report["non_core_ops"]["serving_default"])
    )


@pytest.mark.parametrize("batch", [1, 5])
def test_reloaded_outputs_match_in_memory_model(mlm, reloaded, batch):
    work, _, token_ids = reloaded
    expected = np.asarray(mlm(tf.constant(TEXTS[batch]), training=False))
    assert expected.shape == (batch, 8)
    expected_ids = np.asarray(
        mlm.encoder(token_ids[batch], training=False)["pooled_output"]
    )
    served = np.load(work / f"serving_default_{batch}.npy")
    served_ids = np.load(work / f"embed_token_ids_{batch}.npy")
    assert served.dtype == np.float32
    np.testing.assert_allclose(served, expected, atol=1e-5)
    np.testing.assert_allclose(served_ids, expected_ids, atol=1e-5)


def test_accepts_encoder_and_preprocessor(mlm, preprocessor, tmp_path):
    path = export_text_encoder(mlm.encoder, preprocessor, tmp_path / "bare")
    assert path == str(tmp_path / "bare")
    assert (tmp_path / "bare" / "saved_model.pb").is_file()


def test_refuses_non_empty_export_dir(mlm, tmp_path):
    (tmp_path / "old.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not empty"):
        export_text_encoder(mlm, export_dir=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["old.txt"]


def test_bad_arguments(mlm, preprocessor, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="`model_or_encoder`.*Received"):
        export_text_encoder("not a model", preprocessor, out)
    with pytest.raises(ValueError, match="`preprocessor`.*Received"):
        export_text_encoder(mlm.encoder, None, out)
    with pytest.raises(ValueError, match="`preprocessor`.*Received"):
        export_text_encoder(mlm.encoder, "vocab.txt", out)
    with pytest.raises(ValueError, match="`export_dir`.*Received"):
        export_text_encoder(mlm)
    longer = TextPreprocessor(preprocessor.vocabulary, sequence_length=16)
    with pytest.raises(ValueError, match="sequence length.*Received"):
        export_text_encoder(mlm.encoder, longer, out)
    image_encoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="pooled_output.*Received"):
        export_text_encoder(image_encoder, preprocessor, out)
    assert not out.exists()


def test_causal_lm_exports_through_the_workflow_and_reloads(
    preprocessor, tmp_path, fresh_python, non_core_ops_snippet
):
    """Every text SSL model exports; here the decoder of a causal LM."""
    from keras_ssl.app import export
    from keras_ssl.encoders import transformer_decoder
    from keras_ssl.models import CausalLanguageModel

    keras.utils.set_random_seed(1)
    decoder = transformer_decoder(
        preprocessor.vocabulary_size,
        SEQUENCE_LENGTH,
        hidden_dim=8,
        num_layers=1,
        num_heads=2,
        intermediate_dim=8,
    )
    model = CausalLanguageModel(decoder, preprocessor)
    export_dir = export(model, "clm", base_dir=str(tmp_path / "models"))
    assert export_dir == str(tmp_path / "models" / "clm" / "1")
    token_ids = {}
    for batch, texts in TEXTS.items():
        token_ids[batch] = np.asarray(preprocessor(tf.constant(texts)), "int32")
        np.save(tmp_path / f"token_ids_{batch}.npy", token_ids[batch])
    fresh_python(
        RELOAD_SCRIPT.format(
            export_dir=export_dir, texts=TEXTS, non_core_ops=non_core_ops_snippet
        ),
        cwd=tmp_path,
    )
    for batch, texts in TEXTS.items():
        expected = np.asarray(model(tf.constant(texts), training=False))
        served = np.load(tmp_path / f"serving_default_{batch}.npy")
        np.testing.assert_allclose(served, expected, atol=1e-5)
        served_ids = np.load(tmp_path / f"embed_token_ids_{batch}.npy")
        np.testing.assert_allclose(served_ids, expected, atol=1e-5)
