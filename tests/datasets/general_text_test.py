"""The general-text corpus of the base model: fortunes, Austen, WordNet."""

import numpy as np
import pytest

from keras_ssl.datasets import general_text
from keras_ssl.datasets.general_text import (
    MAX_WORDS,
    _passages,
    load_austen,
    load_fortunes,
    load_general_text,
)


def test_passages_keep_order_and_cut_long_paragraphs():
    sentence = " ".join(f"w{i}" for i in range(30)) + "."
    paragraph = f"Short one. {sentence} {sentence} End."
    out = _passages(paragraph, max_words=40)
    assert all(len(p.split()) <= 40 for p in out)
    # Every word, in order, exactly once.
    assert " ".join(out).split() == paragraph.split()
    long = " ".join(f"x{i}" for i in range(100))
    assert [len(p.split()) for p in _passages(long, 48)] == [48, 48, 4]


def test_load_fortunes_reads_cookies_and_skips_art_and_indexes(tmp_path):
    (tmp_path / "wisdom").write_text(
        "A penny saved is a penny earned.\n%\nLook before you leap;\n"
        "the sea is deep.\n\t\t-- Proverb\n%\n  /\\_/\\\n ( o.o )\n  > ^ <\n%\n",
        encoding="utf-8",
    )
    (tmp_path / "wisdom.dat").write_bytes(b"\x00\x01binary index")
    (tmp_path / "wisdom.u8").symlink_to(tmp_path / "wisdom")
    texts, categories = load_fortunes(str(tmp_path))
    assert texts == [
        "A penny saved is a penny earned.",
        "Look before you leap; the sea is deep.",
    ]
    assert categories == ["wisdom", "wisdom"]


def test_load_austen_names_the_missing_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="r-cran-janeaustenr"):
        load_austen(str(tmp_path))


def test_general_text_holds_out_the_noun_glosses(tmp_path, monkeypatch):
    (tmp_path / "people").write_text(
        "Some people are like clouds.\n%\nWhen they go away, the day is bright.\n%\n",
        encoding="utf-8",
    )
    data = load_general_text(fortunes_dir=str(tmp_path), seed=0)
    assert data.label_names == ["wordnet", "fortunes"]
    assert np.bincount(data.y).tolist()[1] == 2
    from keras_ssl.datasets import load_wordnet

    nouns = set(load_wordnet("all", pos="noun").x)
    others = set(load_wordnet("all", pos=("verb", "adj", "adv")).x)
    texts = set(data.x)
    assert others <= texts
    # Glosses shared word for word by a noun and another part of speech
    # are allowed; nothing else from the noun file is.
    assert not (texts & nouns) - others
    assert all(len(t.split()) <= MAX_WORDS or t in others for t in texts)
    assert general_text.FORTUNES_DIR.startswith("/usr/share/games")


def test_load_austen_reads_the_six_novels_when_unpacked():
    from keras_ssl.app.base_models import cache_directory

    pytest.importorskip("rdata")
    root = f"{cache_directory()}/janeaustenr"
    if not general_text.os.path.isdir(f"{root}/{general_text.AUSTEN_DATA}"):
        pytest.skip("r-cran-janeaustenr is not unpacked in the cache")
    texts, books = load_austen(root)
    assert sorted(set(books)) == [
        "emma",
        "mansfieldpark",
        "northangerabbey",
        "persuasion",
        "prideprejudice",
        "sensesensibility",
    ]
    assert len(texts) > 20_000
    assert any(t.startswith("It is a truth universally acknowledged") for t in texts)
