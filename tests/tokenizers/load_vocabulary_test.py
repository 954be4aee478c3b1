import pytest

from keras_ssl.tokenizers import (
    SPECIAL_TOKENS,
    TextPreprocessor,
    load_vocabulary,
    train_word_piece_vocabulary,
)


def test_reads_the_file_pretrain_writes(tmp_path):
    vocab = train_word_piece_vocabulary(["a small cat", "a big dog"], 40)
    path = tmp_path / "vocabulary.txt"
    path.write_text("\n".join(vocab) + "\n", encoding="utf-8")  # as write_lines
    assert load_vocabulary(path) == vocab
    path.write_bytes(("\r\n".join(vocab)).encode())  # Windows line ends, no final
    assert load_vocabulary(str(path)) == vocab


def test_text_preprocessor_takes_a_path_and_keeps_the_tokens(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join([*SPECIAL_TOKENS, "a", "cat"]) + "\n")
    pre = TextPreprocessor(path, sequence_length=6)
    assert pre.vocabulary[-2:] == ["a", "cat"]
    config = pre.get_config()
    assert config["vocabulary"] == pre.vocabulary  # tokens, not the path
    assert TextPreprocessor.from_config(config).vocabulary == pre.vocabulary


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", r"vocabulary file is empty"),
        (b"\n".join(t.encode() for t in SPECIAL_TOKENS), r"Received: 5 tokens"),
        (b"[PAD]\n[CLS]\n[SEP]\n[UNK]\n[MASK]\na\na\n", r"more than once, e\.g\. 'a'"),
        (b"[PAD]\n[CLS]\n[SEP]\n[UNK]\n[MASK]\na\n\nb\n", r"first is line 7"),
        (b"[PAD]\n[CLS]\n\xff\n", r"not valid UTF-8: line 3"),
    ],
)
def test_bad_vocabulary_files(tmp_path, content, match):
    path = tmp_path / "vocab.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        load_vocabulary(path)


def test_missing_file_folder_and_bad_argument(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Received: path='.*nope\.txt'"):
        load_vocabulary(tmp_path / "nope.txt")
    with pytest.raises(ValueError, match="not a folder"):
        load_vocabulary(tmp_path)
    with pytest.raises(ValueError, match=r"Received: path=None"):
        load_vocabulary(None)
    with pytest.raises(ValueError, match=r"Received: vocabulary=None"):
        TextPreprocessor(None)
