import os
import sys

import pytest
import tensorflow as tf

from keras_ssl.datasets import load, registry

requires_debian_data = pytest.mark.skipif(
    not (
        os.path.isfile("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")
        and os.path.isfile("/usr/share/wordnet/data.noun")
    ),
    reason="needs `apt-get install dataset-fashion-mnist wordnet-base`",
)


@requires_debian_data
def test_known_names():
    fashion = load("fashion_mnist", split="test")
    assert fashion.x.shape == (10000, 28, 28, 1)
    assert load("wordnet").name == "wordnet/all"
    nouns = load("wordnet_nouns", split="train")
    assert len(nouns.label_names) == 26 and nouns.name == "wordnet_nouns/train"
    verbs = load("wordnet", split="test", pos="verb")
    assert verbs.label_names[0] == "verb.body"


def test_known_names_use_default_splits(monkeypatch):
    calls = []
    record = lambda name: lambda *args, **kwargs: calls.append((name, args, kwargs))
    monkeypatch.setattr(registry, "load_fashion_mnist", record("fashion"))
    monkeypatch.setattr(registry, "load_wordnet", record("wordnet"))
    monkeypatch.setattr(registry, "load_tfds", record("tfds"))
    load("fashion_mnist")
    load("wordnet", data_dir="/x")
    load("wordnet_nouns", split="test")
    load("tfds:cifar10")
    load("tfds:mnist", split="test[:10%]")
    assert calls == [
        ("fashion", ("train",), {}),
        ("wordnet", ("all",), {"data_dir": "/x"}),
        ("wordnet", ("test",), {"pos": "noun"}),
        ("tfds", ("cifar10",), {"split": "train"}),
        ("tfds", ("mnist",), {"split": "test[:10%]"}),
    ]


def test_paths(tmp_path):
    image = tf.io.encode_png(tf.zeros([4, 4, 1], tf.uint8)).numpy()
    (tmp_path / "folder" / "cls").mkdir(parents=True)
    (tmp_path / "folder" / "cls" / "a.png").write_bytes(image)
    (tmp_path / "docs.txt").write_text("one\ntwo\n")
    (tmp_path / "rows.CSV").write_text("body,tag\nhi,x\n")
    assert load(tmp_path / "folder", image_size=(2, 2)).x.shape == (1, 2, 2, 1)
    assert list(load(str(tmp_path / "docs.txt")).x) == ["one", "two"]
    data = load(str(tmp_path / "rows.CSV"), text_column="body", label_column="tag")
    assert data.label_names == ["x"]


def test_path_errors(tmp_path):
    (tmp_path / "rows.csv").write_text("body\nhi\n")
    (tmp_path / "blank.txt").write_text("\n")
    with pytest.raises(ValueError, match=r"needs `text_column=`"):
        load(str(tmp_path / "rows.csv"))
    with pytest.raises(ValueError, match=r"Received: split='train'.*split=None"):
        load(str(tmp_path), split="train")
    with pytest.raises(ValueError, match=r"empty: no examples found in text file"):
        load(str(tmp_path / "blank.txt"))
    with pytest.raises(ValueError, match=r"No folder or .txt/.csv file exists"):
        load(str(tmp_path / "missing.txt"))


def test_unknown_name():
    expected = (
        "Unknown dataset name. Received: name='xyz'. Expected one of "
        "['fashion_mnist', 'wordnet', 'wordnet_nouns'], a path to an image "
        "folder, a .txt or .csv file, or 'tfds:<name>'."
    )
    with pytest.raises(ValueError) as info:
        load("xyz")
    assert str(info.value) == expected
    with pytest.raises(ValueError, match=r"name='fashion-mnist'.*'fashion_mnist'\?"):
        load("fashion-mnist")
    with pytest.raises(ValueError, match=r"Did you mean 'wordnet_nouns'\?"):
        load("wordnet_noun")
    with pytest.raises(ValueError, match=r"Received: name=3 of type"):
        load(3)


def test_tfds_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    with pytest.raises(ImportError, match=r"'mnist'.*pip install keras-ssl\[tfds\]"):
        load("tfds:mnist")


def test_csv_columns_named_text_and_label_are_the_default(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("label,text\nb,a cat\na,a dog\n")
    data = load(path)
    assert list(data.x) == ["a cat", "a dog"] and data.label_names == ["a", "b"]
    (tmp_path / "u.csv").write_text("text\nx\n")
    assert load(tmp_path / "u.csv").y is None
    (tmp_path / "v.csv").write_text("body\nx\n")
    with pytest.raises(ValueError, match=r"`text_column=`.*columns \['body'\]"):
        load(tmp_path / "v.csv")


def test_existing_file_of_an_unsupported_type(tmp_path):
    (tmp_path / "d.parquet").write_bytes(b"PAR1")
    with pytest.raises(ValueError, match=r"unsupported type \(\.parquet extension"):
        load(str(tmp_path / "d.parquet"))
