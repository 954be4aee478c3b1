"""Encoders out as keras-hub presets (`save_to_preset`), and the text export
of a keras-hub tokenizer, both read back by a process without keras_ssl."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.encoders import (
    conv_encoder,
    image_encoder_from_backbone,
    load_text_preset,
    save_to_preset,
    text_encoder_from_backbone,
    transformer_encoder,
)
from keras_ssl.export import export_text_encoder
from keras_ssl.models import MaskedLanguageModel
from keras_ssl.tokenizers import PresetTextPreprocessor, TextPreprocessor

pytestmark = pytest.mark.filterwarnings("ignore:Gradients do not exist")

WORDS = "a the cat dog sat ran on in mat park".split()
LENGTH = 10
TEXTS = ["a cat sat on the mat", "the dog ran in the park", "A Zebra ran!", ""]
SIZE = dict(num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16)


def byte_pair_vocabulary():
    vocabulary = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4}
    for symbol in sorted(set("".join(WORDS)) | {"Ġ"}):
        vocabulary[symbol] = len(vocabulary)
    merges = []
    for word in WORDS:
        merged = "Ġ"
        for symbol in word:
            merges.append(f"{merged} {symbol}")
            merged += symbol
            vocabulary.setdefault(merged, len(vocabulary))
    return vocabulary, list(dict.fromkeys(merges))


def make_encoders():
    """`{family: (encoder, preprocessor)}`: BERT and RoBERTa with their
    keras-hub tokenizers, ELECTRA with a keras_ssl `TextPreprocessor`."""
    keras.utils.set_random_seed(0)
    word_pieces = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    bert = PresetTextPreprocessor(
        keras_hub.models.BertTokenizer(vocabulary=word_pieces, lowercase=True), LENGTH
    )
    vocabulary, merges = byte_pair_vocabulary()
    roberta = PresetTextPreprocessor(
        keras_hub.models.RobertaTokenizer(vocabulary=vocabulary, merges=merges),
        LENGTH,
    )
    own = TextPreprocessor(
        ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]", *WORDS], LENGTH
    )
    backbones = {
        "bert": (keras_hub.models.BertBackbone, bert, "vocabulary_size"),
        "roberta": (keras_hub.models.RobertaBackbone, roberta, "vocabulary_size"),
        "electra": (keras_hub.models.ElectraBackbone, own, "vocab_size"),
    }
    encoders = {}
    for family, (cls, pre, size_name) in backbones.items():
        extra = {"embedding_dim": 8} if family == "electra" else {}
        backbone = cls(
            **{size_name: pre.vocabulary_size},
            max_sequence_length=16,
            **SIZE,
            **extra,
        )
        encoders[family] = (
            text_encoder_from_backbone(backbone, LENGTH, pre.pad_id),
            pre,
        )
    return encoders


def backbone_of(encoder):
    return next(
        layer
        for layer in encoder.layers
        if isinstance(layer, keras_hub.models.Backbone)
    )


@pytest.fixture(scope="module")
def encoders():
    return make_encoders()


@pytest.fixture(scope="module")
def saved(encoders, tmp_path_factory):
    root = tmp_path_factory.mktemp("saved")
    paths = {}
    for family, (encoder, pre) in encoders.items():
        paths[family] = save_to_preset(encoder, root / family, pre)
    return root, paths


def tiny_image_encoder():
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64],
        stackwise_num_blocks=[1],
        stackwise_num_strides=[1],
        block_type="basic_block",
        use_pre_activation=False,
        image_shape=(16, 16, 3),
    )
    converter = keras_hub.layers.ResNetImageConverter(image_size=(16, 16), scale=1.0)
    encoder = image_encoder_from_backbone(
        backbone, (16, 16, 3), image_converter=converter
    )
    return encoder, backbone


# --- save_to_preset ---------------------------------------------------------


@pytest.mark.parametrize(
    "family, tokenizer",
    [
        ("bert", "BertTokenizer"),
        ("roberta", "RobertaTokenizer"),
        # A keras_ssl TextPreprocessor: the WordPiece tokenizer keras-hub
        # pairs with the backbone.
        ("electra", "ElectraTokenizer"),
    ],
)
def test_writes_a_keras_hub_preset(encoders, saved, family, tokenizer):
    root, paths = saved
    path = paths[family]
    assert path == str(root / family)
    assert sorted(os.listdir(root)) == ["bert", "electra", "roberta"]  # no temp
    files = set(os.listdir(path))
    assert {"config.json", "model.weights.h5", "tokenizer.json"} <= files
    assert json.loads((root / family / "tokenizer.json").read_text())[
        "registered_name"
    ] == (f"keras_hub>{tokenizer}")
    encoder, pre = encoders[family]
    backbone = keras_hub.models.Backbone.from_preset(path)
    assert type(backbone) is type(backbone_of(encoder))
    for got, want in zip(backbone.weights, backbone_of(encoder).weights):
        np.testing.assert_array_equal(got, want)
    loaded = keras_hub.models.Tokenizer.from_preset(path)
    assert type(loaded).__name__ == tokenizer
    assert loaded.vocabulary_size() == pre.vocabulary_size
    assert [loaded.id_to_token(i) for i in range(pre.vocabulary_size)] == list(
        pre.vocabulary
    )


def test_round_trip_through_load_text_preset(encoders, saved):
    _, paths = saved
    for family in ("bert", "electra"):
        encoder, pre = encoders[family]
        restored, restored_pre = load_text_preset(paths[family], LENGTH)
        np.testing.assert_array_equal(
            restored_pre(tf.constant(TEXTS)), pre(tf.constant(TEXTS))
        )
        ids = pre(tf.constant(TEXTS))
        np.testing.assert_allclose(
            restored(ids)["pooled_output"], encoder(ids)["pooled_output"], atol=1e-6
        )


def test_saves_a_keras_ssl_model_with_its_preprocessor(encoders, tmp_path):
    encoder, pre = encoders["bert"]
    model = MaskedLanguageModel(encoder, pre)
    path = save_to_preset(model, tmp_path / "mlm")
    tokenizer = keras_hub.models.Tokenizer.from_preset(path)
    assert isinstance(tokenizer, keras_hub.models.BertTokenizer)


def test_image_encoder_with_its_converter(encoders, tmp_path):
    encoder, backbone = tiny_image_encoder()
    path = save_to_preset(encoder, tmp_path / "image")
    assert "image_converter.json" in os.listdir(path)
    converter = keras_hub.layers.ImageConverter.from_preset(path)
    assert isinstance(converter, keras_hub.layers.ResNetImageConverter)
    restored = keras_hub.models.Backbone.from_preset(path)
    for got, want in zip(restored.weights, backbone.weights):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="`preprocessor`.*Received"):
        save_to_preset(encoder, tmp_path / "again", encoders["bert"][1])
    with pytest.raises(ValueError, match="ResNetBackbone, not a text backbone"):
        load_text_preset(path)


def test_own_encoders_are_refused_with_the_alternatives(tmp_path):
    for encoder in (
        transformer_encoder(20, 8, hidden_dim=8, num_heads=2, intermediate_dim=8),
        conv_encoder((16, 16, 3), embedding_dim=8),
    ):
        with pytest.raises(
            ValueError, match=r"keras-hub backbone.*\.keras.*SavedModel"
        ):
            save_to_preset(encoder, tmp_path / "own")
    assert not (tmp_path / "own").exists()


def test_bad_arguments(encoders, tmp_path):
    encoder, pre = encoders["bert"]
    with pytest.raises(ValueError, match="`encoder`.*Received"):
        save_to_preset("bert", tmp_path / "a", pre)
    with pytest.raises(ValueError, match="`preprocessor`.*tokenizer.*Received"):
        save_to_preset(encoder, tmp_path / "a")
    _, other = encoders["roberta"]
    with pytest.raises(ValueError, match="vocabulary.*Received"):
        save_to_preset(encoder, tmp_path / "a", other)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="`path`.*existing file"):
        save_to_preset(encoder, tmp_path / "file", pre)
    assert sorted(os.listdir(tmp_path)) == ["file"]


def test_refuses_a_non_empty_folder_and_fills_an_empty_one(encoders, tmp_path):
    encoder, pre = encoders["bert"]
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not empty.*Received"):
        save_to_preset(encoder, tmp_path / "full", pre)
    assert os.listdir(tmp_path / "full") == ["old.txt"]
    (tmp_path / "empty").mkdir()
    save_to_preset(encoder, tmp_path / "empty", pre)
    assert "config.json" in os.listdir(tmp_path / "empty")
    assert sorted(os.listdir(tmp_path)) == ["empty", "full"]  # no temp left


# --- one fresh process: the export (no keras_ssl, no keras-hub), then the
# presets (plain keras-hub) ---------------------------------------------------

FRESH_SCRIPT = """
import json
import os
import sys

import numpy as np

for name in ("keras_ssl", "keras_hub"):
    sys.modules[name] = None  # `import name` now raises ImportError

import tensorflow as tf
import tensorflow_text  # noqa: F401  (the regex split op of serving_default)

report = {}
served = tf.saved_model.load("export")
texts = tf.constant(json.load(open("texts.json")))
serve = served.signatures["serving_default"]
np.save("served.npy", serve(texts=texts)["embedding"])
embed = served.signatures["embed_token_ids"]
np.save("served_ids.npy", embed(token_ids=np.load("ids_roberta.npy"))["embedding"])

del sys.modules["keras_hub"]
import keras_hub

for family in ("bert", "roberta", "electra"):
    path = os.path.abspath(family)
    backbone = keras_hub.models.Backbone.from_preset(path)
    tokenizer = keras_hub.models.Tokenizer.from_preset(path)
    ids = np.load(f"ids_{family}.npy")
    inputs = {"token_ids": ids, "padding_mask": ids != tokenizer.pad_token_id}
    if "segment_ids" in backbone.input:
        inputs["segment_ids"] = np.zeros_like(ids)
    out = backbone(inputs)
    out = out["sequence_output"] if isinstance(out, dict) else out
    np.save(f"sequence_{family}.npy", np.asarray(out))
    report[family] = {
        "backbone": type(backbone).__name__,
        "tokenizer": type(tokenizer).__name__,
        "ids": np.asarray(tokenizer("a cat sat on the mat")).tolist(),
    }
with open("report.json", "w") as f:
    json.dump(report, f)
"""


@pytest.fixture(scope="module")
def fresh(encoders, saved):
    """Exports the RoBERTa encoder (byte-pair encoding in the graph; the
    WordPiece export is tested in tests/export), then runs `FRESH_SCRIPT`."""
    root, _ = saved
    encoder, pre = encoders["roberta"]
    export_text_encoder(encoder, pre, root / "export")
    (root / "texts.json").write_text(json.dumps(TEXTS))
    for family, (_, family_pre) in encoders.items():
        np.save(root / f"ids_{family}.npy", np.asarray(family_pre(tf.constant(TEXTS))))
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="2",
        CUDA_VISIBLE_DEVICES="",
        KERAS_BACKEND="tensorflow",
    )
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FRESH_SCRIPT)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return root, json.loads((root / "report.json").read_text())


def test_export_serves_raw_strings_without_keras_ssl_or_keras_hub(encoders, fresh):
    root, _ = fresh
    encoder, pre = encoders["roberta"]
    expected = np.asarray(
        encoder(pre(tf.constant(TEXTS)), training=False)["pooled_output"]
    )
    np.testing.assert_allclose(np.load(root / "served.npy"), expected, atol=1e-5)
    np.testing.assert_allclose(np.load(root / "served_ids.npy"), expected, atol=1e-5)


@pytest.mark.parametrize("family", ["bert", "roberta", "electra"])
def test_presets_load_in_plain_keras_hub(encoders, fresh, family):
    root, report = fresh
    encoder, pre = encoders[family]
    assert report[family]["backbone"] == type(backbone_of(encoder)).__name__
    ids = np.load(root / f"ids_{family}.npy")
    np.testing.assert_allclose(
        np.load(root / f"sequence_{family}.npy"),
        encoder(ids)["sequence_output"],
        atol=1e-5,
    )
    # The same tokens as keras_ssl's preprocessor, between start and end.
    packed = np.asarray(pre(tf.constant(["a cat sat on the mat"])))[0]
    assert report[family]["ids"] == packed[1 : list(packed).index(pre.sep_id)].tolist()
