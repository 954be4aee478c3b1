"""load_vocabulary reads keras-hub WordPiece vocabularies, whitespace tokens kept."""

import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.tokenizers import SPECIAL_TOKENS, TextPreprocessor, load_vocabulary

# BERT's order of the special tokens, a single space and an ideographic space
# (whitespace-only tokens), word pieces.
BERT_VOCABULARY = [
    "[PAD]",
    " ",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "\u3000",
    "the",
    "cat",
    "sat",
    "##s",
    "a",
]


@pytest.fixture(scope="module")
def bert_preset(tmp_path_factory):
    """A BertTokenizer preset folder, written by keras-hub itself."""
    path = tmp_path_factory.mktemp("bert_tokenizer")
    keras_hub.models.BertTokenizer(vocabulary=BERT_VOCABULARY).save_to_preset(path)
    return path


def test_reads_a_keras_hub_bert_vocabulary_with_whitespace_tokens(bert_preset):
    path = bert_preset / "assets" / "tokenizer" / "vocabulary.txt"
    lines = path.read_text(encoding="utf-8").split("\n")  # as keras-hub wrote it
    assert (lines[1], lines[6]) == (" ", "\u3000")
    vocab = load_vocabulary(path)
    assert vocab == BERT_VOCABULARY  # token i on line i + 1, whitespace kept
    pre = TextPreprocessor(vocab, sequence_length=8)
    ids = pre(tf.constant(["the cats sat"])).numpy()
    # [CLS] the cat ##s sat [SEP] [PAD] [PAD], with BERT's ids.
    np.testing.assert_array_equal(ids, [[3, 7, 8, 10, 9, 4, 0, 0]])
    assert (pre.pad_id, pre.cls_id, pre.sep_id, pre.mask_id) == (0, 3, 4, 5)


def test_a_preset_folder_points_at_its_vocabulary_file(bert_preset):
    with pytest.raises(ValueError, match=r"not a folder.*assets.*vocabulary\.txt"):
        load_vocabulary(bert_preset)


@pytest.mark.parametrize(
    "content, match",
    [
        # A line with no character at all is still empty (shifts the ids).
        ("\n".join([*SPECIAL_TOKENS, "a", "", "b"]) + "\n", r"first is line 7"),
        ("\r\n".join([*SPECIAL_TOKENS, "a", "", "b"]), r"first is line 7"),
    ],
)
def test_truly_empty_lines_are_refused(tmp_path, content, match):
    path = tmp_path / "vocabulary.txt"
    path.write_bytes(content.encode("utf-8"))
    with pytest.raises(ValueError, match=match):
        load_vocabulary(path)


def test_missing_special_tokens_are_named(tmp_path):
    # A byte-pair (RoBERTa-style) vocabulary has other special tokens.
    path = tmp_path / "vocabulary.txt"
    path.write_text("<s>\n<pad>\n</s>\n<unk>\n[PAD]\n[CLS]\ncat\n", encoding="utf-8")
    with pytest.raises(ValueError) as info:
        load_vocabulary(path)
    message = str(info.value)
    assert "missing ['[SEP]', '[UNK]', '[MASK]']" in message
    assert "Received: 7 tokens" in message
    assert "BERT-family" in message
