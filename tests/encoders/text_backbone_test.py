"""keras-hub text backbones and tokenizers as keras_ssl encoders and preprocessors.

Tiny BERT, DistilBERT, ELECTRA and RoBERTa presets (random weights, a vocabulary
of a few dozen tokens) are written with keras-hub's own `save_to_preset` and
read back through the real `from_preset` code path.
"""

import json

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.encoders import (
    load_text_preset,
    text_encoder_from_backbone,
    transformer_decoder,
)
from keras_ssl.models import (
    CausalLanguageModel,
    MaskedLanguageModel,
    ReplacedTokenDetection,
    SimCSE,
)
from keras_ssl.models.text_inputs import tied_token_embedding
from keras_ssl.tokenizers import PresetTextPreprocessor, TextPreprocessor

# BERT's and ELECTRA's own pooler gets no gradient (the encoders pool the
# sequence themselves): Keras says so once per fit.
pytestmark = pytest.mark.filterwarnings("ignore:Gradients do not exist")

WORDS = "a the cat dog bird sat ran on in mat park big small red and".split()
WORD_PIECES = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, "##s"]
LENGTH = 12  # ids per text; the presets allow 16
TEXTS = [
    f"{a} {b} {c} on the {d}"
    for a, b, c, d in zip(
        ["the", "a", "the", "a"] * 4,
        ["cat", "dog", "bird", "big cat", "small dog", "red bird", "dogs", "cats"] * 2,
        ["sat", "ran", "sat", "ran"] * 4,
        ["mat", "park", "mat", "park", "red mat", "big park", "mat", "park"] * 2,
    )
]
FAMILIES = ("bert", "distil_bert", "electra", "roberta")


def byte_pair_vocabulary():
    """A RoBERTa-style vocabulary and merges covering `WORDS` (with `<unk>`)."""
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


def tokenizer_of(family):
    if family == "roberta":
        vocabulary, merges = byte_pair_vocabulary()
        return keras_hub.models.RobertaTokenizer(vocabulary=vocabulary, merges=merges)
    cls = {
        "bert": keras_hub.models.BertTokenizer,
        "distil_bert": keras_hub.models.DistilBertTokenizer,
        "electra": keras_hub.models.ElectraTokenizer,
    }[family]
    return cls(vocabulary=WORD_PIECES, lowercase=True)


def backbone_of(family, vocabulary_size, hidden_dim=8, embedding_dim=None):
    size = dict(
        num_layers=1,
        num_heads=2,
        hidden_dim=hidden_dim,
        intermediate_dim=16,
        max_sequence_length=16,
    )
    if family == "electra":
        return keras_hub.models.ElectraBackbone(
            vocab_size=vocabulary_size,
            embedding_dim=embedding_dim or hidden_dim,
            **size,
        )
    cls = {
        "bert": keras_hub.models.BertBackbone,
        "distil_bert": keras_hub.models.DistilBertBackbone,
        "roberta": keras_hub.models.RobertaBackbone,
    }[family]
    return cls(vocabulary_size=vocabulary_size, **size)


@pytest.fixture(scope="module")
def presets(tmp_path_factory):
    """`{family: preset folder}`, written by keras-hub itself."""
    root = tmp_path_factory.mktemp("presets")
    keras.utils.set_random_seed(0)
    paths = {}
    for family in FAMILIES:
        tokenizer = tokenizer_of(family)
        backbone = backbone_of(family, tokenizer.vocabulary_size())
        backbone.save_to_preset(str(root / family))
        tokenizer.save_to_preset(str(root / family))
        paths[family] = root / family
    return paths


@pytest.fixture(scope="module")
def loaded(presets):
    """`{family: (encoder, preprocessor)}` from `load_text_preset`."""
    return {f: load_text_preset(presets[f], sequence_length=LENGTH) for f in FAMILIES}


@pytest.fixture(scope="module")
def trained(loaded):
    """`{family: MaskedLanguageModel}`, two steps on the raw texts."""
    models = {}
    for family, (encoder, preprocessor) in loaded.items():
        model = MaskedLanguageModel(encoder, preprocessor, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)
        before = np.array(model._embedding_matrix())
        history = model.fit(
            preprocessor(TEXTS), batch_size=8, epochs=1, verbose=0, shuffle=False
        )
        models[family] = (model, before, history.history["loss"])
    return models


# --- PresetTextPreprocessor -------------------------------------------------


def test_word_piece_packing_and_attributes(loaded):
    _, pre = loaded["bert"]
    ids = {t: i for i, t in enumerate(WORD_PIECES)}
    assert (pre.pad_id, pre.cls_id, pre.sep_id, pre.mask_id) == (0, 2, 3, 4)
    assert pre.special_ids == [0, 1, 2, 3, 4]  # [UNK] too
    assert pre.vocabulary == WORD_PIECES
    assert pre.vocabulary_size == len(WORD_PIECES)
    assert pre.lowercase is True
    got = np.asarray(pre(tf.constant(["The Cats sat", "zebra"])))
    assert got.dtype == np.int32
    pads = [0] * (LENGTH - 6)
    np.testing.assert_array_equal(
        got,
        [
            [2, ids["the"], ids["cat"], ids["##s"], ids["sat"], 3, *pads],
            [2, ids["[UNK]"], 3, 0, 0, 0, *pads],
        ],
    )
    # Truncated to sequence_length, the end token kept.
    long = np.asarray(pre(["a cat " * 10]))[0]
    assert long.tolist() == [2] + [ids["a"], ids["cat"]] * 5 + [3]
    pair = np.asarray(pre.pack_pair(["a cat"], ["the dog"]))[0]
    assert pair[:8].tolist() == [
        2,
        ids["a"],
        ids["cat"],
        3,
        ids["the"],
        ids["dog"],
        3,
        0,
    ]
    assert pre.detokenize(pre(["a cat"]))[0] == "[CLS] a cat [SEP]"


def test_byte_pair_packing_matches_roberta(loaded):
    _, pre = loaded["roberta"]
    v, _ = byte_pair_vocabulary()
    assert (pre.cls_id, pre.pad_id, pre.sep_id, pre.mask_id) == (0, 1, 2, 4)
    assert pre.special_ids == [0, 1, 2, 3, 4]  # <unk> too
    assert pre.vocabulary[v["Ġcat"]] == "Ġcat"
    got = np.asarray(pre(["a cat sat", "a zebra"]))[:, :8]
    np.testing.assert_array_equal(
        got,
        [
            [0, v["a"], v["Ġcat"], v["Ġsat"], 2, 1, 1, 1],
            # z is not in the vocabulary: <unk>, not -1.
            [0, v["a"], v["Ġ"], v["<unk>"], v["e"], v["b"], v["r"], v["a"]],
        ],
    )
    # RoBERTa pairs: <s> a </s></s> b </s>.
    pair = np.asarray(pre.pack_pair(["a cat"], ["a dog"]))[0]
    assert pair[:9].tolist() == [0, v["a"], v["Ġcat"], 2, 2, v["a"], v["Ġdog"], 2, 1]
    assert pre.detokenize(pre(["a cat sat"]))[0] == "<s>a cat sat</s>"


@pytest.mark.parametrize("family", ["electra", "roberta"])
def test_same_ids_eagerly_and_in_tf_data(loaded, family):
    _, pre = loaded[family]
    eager = np.asarray(pre(tf.constant(TEXTS)))
    dataset = tf.data.Dataset.from_tensor_slices(TEXTS).batch(5).map(pre)
    np.testing.assert_array_equal(np.concatenate(list(dataset)), eager)


def test_config_holds_the_vocabulary_and_round_trips_in_safe_mode(loaded):
    _, pre = loaded["roberta"]
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(pre)))
    inner = config["config"]["tokenizer"]
    assert inner["class_name"] == "keras_hub>RobertaTokenizer"
    assert inner["config"]["vocabulary"] == byte_pair_vocabulary()[0]
    assert inner["config"]["merges"] == byte_pair_vocabulary()[1]
    restored = keras.saving.deserialize_keras_object(config, safe_mode=True)
    assert isinstance(restored, PresetTextPreprocessor)
    np.testing.assert_array_equal(restored(TEXTS), pre(TEXTS))
    assert isinstance(restored.keras_hub_tokenizer(), keras_hub.models.RobertaTokenizer)


def test_from_preset_sequence_length(presets):
    assert PresetTextPreprocessor.from_preset(presets["bert"]).sequence_length == 16
    assert PresetTextPreprocessor.from_preset(presets["bert"], 5).sequence_length == 5
    with pytest.raises(ValueError, match="max_sequence_length.*Received"):
        PresetTextPreprocessor.from_preset(presets["bert"], sequence_length=17)


def test_preprocessor_bad_arguments(tmp_path):
    tokenizer = tokenizer_of("bert")
    with pytest.raises(ValueError, match="`sequence_length`.*Received"):
        PresetTextPreprocessor(tokenizer, sequence_length=2)
    with pytest.raises(ValueError, match="`tokenizer`.*Received"):
        PresetTextPreprocessor(WORD_PIECES, sequence_length=8)
    with pytest.raises(ValueError, match="`tokenizer`.*Received"):
        PresetTextPreprocessor(keras_hub.tokenizers.ByteTokenizer(), sequence_length=8)
    plain = keras_hub.tokenizers.WordPieceTokenizer(vocabulary=WORD_PIECES)
    with pytest.raises(ValueError, match="start, end, padding and mask.*Received"):
        PresetTextPreprocessor(plain, sequence_length=8)
    vocabulary, merges = byte_pair_vocabulary()
    del vocabulary["<unk>"]
    vocabulary = {t: i for i, t in enumerate(vocabulary)}
    no_unknown = keras_hub.models.RobertaTokenizer(vocabulary=vocabulary, merges=merges)
    with pytest.raises(ValueError, match="<unk>.*256 bytes.*Received"):
        PresetTextPreprocessor(no_unknown, sequence_length=8)
    with pytest.raises(ValueError, match="tokenizer class.*Received"):
        PresetTextPreprocessor(
            {"class_name": "keras_ssl>TextPreprocessor", "config": {}}, 8
        )
    # A config never makes the tokenizer read a file.
    (tmp_path / "vocab.txt").write_text("\n".join(WORD_PIECES))
    with pytest.raises(ValueError, match="`vocabulary` inline.*Received"):
        PresetTextPreprocessor(
            {
                "class_name": "keras_hub>BertTokenizer",
                "config": {"vocabulary": str(tmp_path / "vocab.txt")},
            },
            8,
        )
    with pytest.raises(FileNotFoundError, match="Received: path="):
        PresetTextPreprocessor.from_preset(tmp_path / "missing")
    with pytest.raises(ValueError, match="config.json.*Received"):
        PresetTextPreprocessor.from_preset(tmp_path)


def test_text_preprocessor_checks_accept_it(presets):
    pre = PresetTextPreprocessor.from_preset(presets["bert"], 8)
    assert isinstance(pre, TextPreprocessor)  # every text model accepts it


# --- text_encoder_from_backbone / load_text_preset ----------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_load_text_preset(loaded, family):
    encoder, pre = loaded[family]
    assert isinstance(pre, PresetTextPreprocessor)
    assert pre.sequence_length == LENGTH
    backbones = [
        layer
        for layer in encoder.layers
        if isinstance(layer, keras_hub.models.Backbone)
    ]
    assert len(backbones) == 1
    (backbone,) = backbones
    ids = np.asarray(pre(TEXTS[:3]))
    out = encoder(ids)
    assert tuple(out["sequence_output"].shape) == (3, LENGTH, 8)
    # The backbone's own sequence output, padding masked, one segment.
    mask = ids != pre.pad_id
    inputs = {"token_ids": ids, "padding_mask": mask.astype("int32")}
    if "segment_ids" in backbone.input:
        inputs["segment_ids"] = np.zeros_like(ids)
    direct = backbone(inputs)
    direct = direct["sequence_output"] if isinstance(direct, dict) else direct
    np.testing.assert_allclose(out["sequence_output"], direct, atol=1e-6)
    # pooled_output: the mean over the non-padding positions.
    sequence = np.asarray(out["sequence_output"])
    expected = (sequence * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    np.testing.assert_allclose(out["pooled_output"], expected, atol=1e-6)


def test_text_encoder_from_backbone_bad_arguments():
    backbone = backbone_of("bert", len(WORD_PIECES))
    with pytest.raises(ValueError, match="`backbone`.*Received"):
        text_encoder_from_backbone(keras.Sequential([keras.layers.Dense(2)]), 8, 0)
    with pytest.raises(ValueError, match="`sequence_length`.*Received"):
        text_encoder_from_backbone(backbone, 17, 0)
    with pytest.raises(ValueError, match="`pad_token_id`.*Received"):
        text_encoder_from_backbone(backbone, 8, len(WORD_PIECES))
    image = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64],
        stackwise_num_blocks=[1],
        stackwise_num_strides=[1],
        block_type="basic_block",
        use_pre_activation=False,
        image_shape=(16, 16, 3),
    )
    with pytest.raises(ValueError, match="text backbone.*Received"):
        text_encoder_from_backbone(image, 8, 0)


def test_load_text_preset_bad_folders(presets, tmp_path):
    with pytest.raises(FileNotFoundError, match="Received: path="):
        load_text_preset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="config.json.*Received"):
        load_text_preset(tmp_path / "empty")
    backbone = keras_hub.models.Backbone.from_preset(str(presets["bert"]))
    backbone.save_to_preset(str(tmp_path / "no_tokenizer"))
    with pytest.raises(ValueError, match="tokenizer.json.*Received"):
        load_text_preset(tmp_path / "no_tokenizer")
    with pytest.raises(ValueError, match="max_sequence_length.*Received"):
        load_text_preset(presets["bert"], sequence_length=64)


# --- training: MLM, SimCSE, RTD, CLM ------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_mlm_trains_with_its_head_tied_to_the_backbone(trained, loaded, family):
    model, before, losses = trained[family]
    encoder, _ = loaded[family]
    backbone = next(
        layer
        for layer in encoder.layers
        if isinstance(layer, keras_hub.models.Backbone)
    )
    assert np.isfinite(losses).all()
    # BERT's choice: the MLM output layer is the backbone's token embedding.
    assert model._embedding_matrix() is backbone.token_embedding.embeddings
    assert model.mlm_head.output_matrix is None
    # ... and training moved it (the backbone trains in place).
    assert np.abs(np.asarray(backbone.token_embedding.embeddings) - before).max() > 0


@pytest.mark.parametrize("family", FAMILIES)
def test_keras_round_trip(trained, family, tmp_path):
    model, _, _ = trained[family]
    path = tmp_path / f"{family}.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(restored.preprocessor, PresetTextPreprocessor)
    texts = tf.constant(TEXTS[:4])
    np.testing.assert_array_equal(
        restored.preprocessor(texts), model.preprocessor(texts)
    )
    np.testing.assert_allclose(restored(texts), model(texts), atol=1e-6)
    # Still tied to the restored backbone's token embedding.
    backbone = next(
        layer
        for layer in restored.encoder.layers
        if isinstance(layer, keras_hub.models.Backbone)
    )
    assert restored._embedding_matrix() is backbone.token_embedding.embeddings


def test_simcse_trains_on_raw_strings(loaded):
    encoder, pre = loaded["bert"]
    model = SimCSE(encoder, pre)
    model.compile(optimizer="adam", run_eagerly=True)
    history = model.fit(tf.constant(TEXTS), batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_rtd_with_an_electra_generator_backbone(loaded, tmp_path):
    encoder, pre = loaded["electra"]
    generator_backbone = backbone_of("electra", pre.vocabulary_size, hidden_dim=4)
    generator = text_encoder_from_backbone(
        generator_backbone, LENGTH, pre.pad_id, name="generator"
    )
    model = ReplacedTokenDetection(encoder, pre, generator=generator, seed=0)
    assert model.generator is generator
    # The generator's head is tied to the generator's own token embedding.
    assert model._embedding_matrix() is generator_backbone.token_embedding.embeddings
    model.compile(optimizer="adam", run_eagerly=True)
    history = model.fit(pre(TEXTS), batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert 0 < history.history["replaced_fraction"][0] < 1
    model.save(tmp_path / "rtd.keras")
    restored = keras.saving.load_model(tmp_path / "rtd.keras")
    ids = pre(TEXTS[:3])
    np.testing.assert_allclose(
        restored.generator(ids)["sequence_output"],
        generator(ids)["sequence_output"],
        atol=1e-6,
    )


def test_rtd_default_generator_with_a_preset_preprocessor(loaded):
    encoder, pre = loaded["roberta"]
    model = ReplacedTokenDetection(encoder, pre, seed=0)
    # keras_ssl's Transformer over RoBERTa's vocabulary, RoBERTa's padding id.
    assert model.generator.input_shape == (None, LENGTH)
    assert model._embedding_matrix().shape == (pre.vocabulary_size, 4)
    corrupted = model.corrupt(pre(TEXTS[:4]))["corrupted_ids"]
    special = set(pre.special_ids)
    replaced = np.asarray(corrupted)[
        np.asarray(corrupted) != np.asarray(pre(TEXTS[:4]))
    ]
    assert not special & set(replaced.tolist())


def test_rtd_refuses_a_generator_sharing_the_backbone(loaded):
    encoder, pre = loaded["electra"]
    backbone = next(
        layer
        for layer in encoder.layers
        if isinstance(layer, keras_hub.models.Backbone)
    )
    same = text_encoder_from_backbone(backbone, LENGTH, pre.pad_id, name="generator")
    with pytest.raises(ValueError, match="`generator`.*share.*Received"):
        ReplacedTokenDetection(encoder, pre, generator=same)
    shorter = text_encoder_from_backbone(
        backbone_of("electra", pre.vocabulary_size, hidden_dim=4), 8, pre.pad_id
    )
    with pytest.raises(ValueError, match="`generator`.*Received"):
        ReplacedTokenDetection(encoder, pre, generator=shorter)


def test_tying_needs_an_embedding_as_wide_as_the_output(loaded):
    _, pre = loaded["electra"]
    backbone = backbone_of("electra", pre.vocabulary_size, embedding_dim=4)
    encoder = text_encoder_from_backbone(backbone, LENGTH, pre.pad_id)
    with pytest.raises(ValueError, match="embedding width=4.*tie_embeddings=False"):
        MaskedLanguageModel(encoder, pre)
    assert tied_token_embedding(encoder, pre.vocabulary_size, required=False) is None
    model = MaskedLanguageModel(encoder, pre, tie_embeddings=False)
    assert model.mlm_head.output_matrix is not None


def test_causal_lm_with_a_byte_pair_preprocessor(loaded):
    _, pre = loaded["roberta"]
    decoder = transformer_decoder(
        pre.vocabulary_size,
        LENGTH,
        hidden_dim=8,
        num_layers=1,
        num_heads=2,
        intermediate_dim=8,
        pad_token_id=pre.pad_id,
    )
    model = CausalLanguageModel(decoder, pre)
    model.compile(optimizer="adam", run_eagerly=True)
    history = model.fit(pre(TEXTS), batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    (text,) = model.generate("a cat", max_length=6, sampler="greedy")
    assert text.startswith("a cat")
