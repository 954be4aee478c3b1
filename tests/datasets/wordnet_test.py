import os
import time
import zlib

import numpy as np
import pytest

from keras_ssl.datasets import LEXNAMES, load_wordnet, wordnet

DEBIAN_DIR = "/usr/share/wordnet"
requires_debian_data = pytest.mark.skipif(
    not os.path.isfile(os.path.join(DEBIAN_DIR, "data.noun")),
    reason="needs `apt-get install wordnet-base`",
)
HEADER = "  1 This software and database is being provided to you  \n  2   \n"


def write_data_file(directory, pos, synsets):
    """Writes `data.<pos>` with (offset, lex_filenum, word, gloss) synsets."""
    letter = {"noun": "n", "verb": "v", "adj": "a", "adv": "r"}[pos]
    lines = [
        f"{offset:08d} {lex:02d} {letter} 01 {word} 0 001 @ 00001740 {letter} 0000 "
        f"| {gloss}  \n"
        for offset, lex, word, gloss in synsets
    ]
    (directory / f"data.{pos}").write_text(HEADER + "".join(lines))


@pytest.fixture
def tiny_wordnet(tmp_path):
    write_data_file(
        tmp_path,
        "noun",
        [
            (1740, 3, "entity", "that which exists"),
            (2000, 5, "dog", 'a domesticated canine; "the dog barked"'),
            (3000, 5, "cat", "a small feline"),
            (7000, 13, "bread", "food made from flour"),  # In the test split.
        ],
    )
    write_data_file(tmp_path, "verb", [(5000, 38, "run", "move fast")])
    write_data_file(tmp_path, "adj", [(6000, 0, "big", "large"), (7000, 44, "x", "y")])
    write_data_file(tmp_path, "adv", [(8000, 2, "fast", "quickly")])
    return tmp_path


@pytest.fixture
def no_default_dirs(monkeypatch, tmp_path):
    monkeypatch.delenv(wordnet.ENV_VAR, raising=False)
    monkeypatch.setattr(wordnet, "DEFAULT_DIRS", (str(tmp_path / "nothing"),))


def test_lexnames():
    assert len(LEXNAMES) == 45
    assert LEXNAMES[3] == "noun.Tops" and LEXNAMES[28] == "noun.time"
    assert LEXNAMES[29] == "verb.body" and LEXNAMES[43] == "verb.weather"
    assert LEXNAMES[44] == "adj.ppl"


@requires_debian_data
def test_real_data_all():
    start = time.perf_counter()
    data = load_wordnet(data_dir=DEBIAN_DIR)
    assert time.perf_counter() - start < 10  # Loose: parsing is ~0.2 s.
    assert len(data) == 117659
    assert data.label_names == LEXNAMES
    assert data.x.dtype == object and isinstance(data.x[0], str)
    assert data.x[0].startswith("that which is perceived or known")
    assert data.y.dtype == np.int64
    assert set(np.unique(data.y)) == set(range(45))


@requires_debian_data
def test_real_data_nouns_and_split():
    nouns = load_wordnet(pos="noun", data_dir=DEBIAN_DIR)
    assert len(nouns) == 82115
    assert nouns.label_names == LEXNAMES[3:29]
    assert set(np.unique(nouns.y)) == set(range(26))
    train = load_wordnet("train", pos="noun", data_dir=DEBIAN_DIR)
    test = load_wordnet("test", pos="noun", data_dir=DEBIAN_DIR)
    assert len(train) + len(test) == len(nouns)
    assert 0.18 < len(test) / len(nouns) < 0.22
    assert train.label_names == test.label_names == nouns.label_names
    all_test = load_wordnet("test", data_dir=DEBIAN_DIR)
    assert 0.18 < len(all_test) / 117659 < 0.22
    # The parts partition the synsets, and reloading gives the same parts.
    assert sorted(np.concatenate([train.x, test.x])) == sorted(nouns.x)
    np.testing.assert_array_equal(load_wordnet("test", pos="noun").x, test.x)
    assert test.x[0].startswith("organisms (plants and animals) that live at")


def test_parses_synthetic_files(tiny_wordnet):
    data = load_wordnet(data_dir=tiny_wordnet)
    assert len(data) == 8
    assert data.label_names == LEXNAMES
    assert list(data.y) == [3, 5, 5, 13, 38, 0, 44, 2]  # noun, verb, adj, adv
    assert data.x[1] == 'a domesticated canine; "the dog barked"'
    assert data.name == "wordnet/all"


def test_pos_remaps_labels_in_lexname_order(tiny_wordnet):
    nouns = load_wordnet(pos="noun", data_dir=tiny_wordnet)
    assert nouns.label_names == ["noun.Tops", "noun.animal", "noun.food"]
    assert list(nouns.y) == [0, 1, 1, 2]
    mixed = load_wordnet(pos=("adv", "adj"), data_dir=tiny_wordnet)
    assert mixed.label_names == ["adj.all", "adv.all", "adj.ppl"]
    assert list(mixed.x) == ["large", "y", "quickly"]
    assert list(mixed.y) == [0, 2, 1]


def test_split_follows_crc32_rule(tiny_wordnet):
    test = load_wordnet("test", pos="noun", data_dir=tiny_wordnet)
    train = load_wordnet("train", pos="noun", data_dir=tiny_wordnet)
    expected_test = [
        zlib.crc32(f"n{o:08d}".encode()) % 5 == 0 for o in (1740, 2000, 3000, 7000)
    ]
    glosses = load_wordnet(pos="noun", data_dir=tiny_wordnet).x
    assert any(expected_test)
    assert list(test.x) == [g for g, t in zip(glosses, expected_test) if t]
    assert list(train.x) == [g for g, t in zip(glosses, expected_test) if not t]


def test_env_var_is_searched(tiny_wordnet, monkeypatch, no_default_dirs):
    monkeypatch.setenv(wordnet.ENV_VAR, str(tiny_wordnet))
    assert len(load_wordnet()) == 8


def test_cache_sees_rewritten_files(tmp_path):
    write_data_file(tmp_path, "adv", [(8000, 2, "fast", "quickly")])
    assert list(load_wordnet(pos="adv", data_dir=tmp_path).x) == ["quickly"]
    write_data_file(tmp_path, "adv", [(8000, 2, "fast", "rapidly")])
    path = tmp_path / "data.adv"
    os.utime(path, ns=(time.time_ns(), os.stat(path).st_mtime_ns + 10**9))
    assert list(load_wordnet(pos="adv", data_dir=tmp_path).x) == ["rapidly"]


def test_missing_files(tmp_path, no_default_dirs):
    write_data_file(tmp_path, "noun", [(1740, 3, "entity", "that which exists")])
    # Only data.noun exists: all four parts of speech cannot be found.
    with pytest.raises(FileNotFoundError) as info:
        load_wordnet(data_dir=tmp_path)
    message = str(info.value)
    assert "data.verb" in message and f"data_dir={str(tmp_path)!r}" in message
    assert "$KERAS_SSL_WORDNET_DIR (not set)" in message
    assert str(tmp_path / "nothing") in message
    assert "apt-get install wordnet-base" in message
    assert len(load_wordnet(pos="noun", data_dir=tmp_path)) == 1


def test_malformed_line(tmp_path):
    (tmp_path / "data.adv").write_text(HEADER + "00008000 xx r 01 fast 0 | quickly\n")
    with pytest.raises(ValueError, match=r"Malformed WordNet synset line .*line 3"):
        load_wordnet(pos="adv", data_dir=tmp_path)


def test_empty_result(tmp_path):
    (tmp_path / "data.adv").write_text(HEADER)
    with pytest.raises(ValueError, match=r"empty.*split='all', pos='adv'"):
        load_wordnet(pos="adv", data_dir=tmp_path)


def test_invalid_arguments():
    with pytest.raises(ValueError, match=r"Received: split='valid'.*'all', 'train'"):
        load_wordnet("valid")
    with pytest.raises(ValueError, match=r"Received: pos='nouns'.*'noun', 'verb'"):
        load_wordnet(pos="nouns")
    with pytest.raises(ValueError, match=r"Received: pos=\(\)"):
        load_wordnet(pos=())
