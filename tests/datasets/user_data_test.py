import logging
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.datasets import (
    from_arrays,
    load_csv,
    load_image_folder,
    load_text_file,
    load_tfds,
)


def write_image(path, height, width, channels=1, value=100, encode=tf.io.encode_png):
    image = tf.fill([height, width, channels], tf.constant(value, tf.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode(image).numpy())


@pytest.fixture
def image_folder(tmp_path):
    root = tmp_path / "images"
    write_image(root / "cat" / "a.png", 8, 8, value=10)
    write_image(root / "cat" / "nested" / "b.jpg", 8, 8, encode=tf.io.encode_jpeg)
    write_image(root / "ant" / "c.PNG", 8, 8, channels=3, value=200)
    (root / "ant" / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    write_image(root / ".hidden" / "d.png", 8, 8)
    write_image(root / "top_level.png", 8, 8)  # Not in a class folder.
    return root


def test_image_folder(image_folder):
    data = load_image_folder(image_folder)
    assert data.label_names == ["ant", "cat"]
    assert data.x.shape == (3, 8, 8, 1) and data.x.dtype == np.uint8
    assert list(data.y) == [0, 1, 1]
    assert data.x[1].max() == 10 and data.name == "images"


def test_image_folder_rgb_and_resize(image_folder):
    data = load_image_folder(image_folder, image_size=(4, 6), color_mode="rgb")
    assert data.x.shape == (3, 4, 6, 3)
    np.testing.assert_array_equal(data.x[0], 200)


def test_image_folder_mixed_sizes(tmp_path):
    write_image(tmp_path / "a" / "small.png", 4, 4)
    write_image(tmp_path / "b" / "big.png", 5, 4)
    with pytest.raises(ValueError, match=r"big\.png.*image_size=\(height, width\)"):
        load_image_folder(tmp_path)
    assert load_image_folder(tmp_path, image_size=(3, 3)).x.shape == (2, 3, 3, 1)


def test_image_folder_corrupt_image(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"Could not decode image .*broken\.png"):
        load_image_folder(tmp_path)


def test_image_folder_errors(tmp_path):
    with pytest.raises(ValueError, match=r"empty.*image folder"):
        load_image_folder(tmp_path)
    with pytest.raises(ValueError, match=r"Received: path=.*missing"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match=r"Received: color_mode='rgba'"):
        load_image_folder(tmp_path, color_mode="rgba")
    with pytest.raises(ValueError, match=r"Received: image_size=\(0, 4\)"):
        load_image_folder(tmp_path, image_size=(0, 4))


def test_text_file(tmp_path, caplog):
    path = tmp_path / "docs.txt"
    path.write_bytes(
        "\ufefffirst doc\r\n\n  second doc  \n   \nthird ünïcode\n".encode()
    )
    with caplog.at_level(logging.WARNING):
        data = load_text_file(path)
    assert list(data.x) == ["first doc", "second doc", "third ünïcode"]
    assert data.y is None and data.name == "docs.txt"
    assert "Skipped 2 empty line(s)" in caplog.text


def test_text_file_not_utf8(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("ok\nfine\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.txt.*not valid UTF-8: line 3"):
        load_text_file(path)


def test_empty_text_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("\n\n")
    with pytest.raises(ValueError, match=r"empty: no examples found in text file"):
        load_text_file(path)


def test_csv(tmp_path, caplog):
    path = tmp_path / "reviews.csv"
    path.write_text(
        'text,label,extra\n"good, really",pos,1\nbad,neg,2\n,pos,3\n"fine\nok",pos,4\n'
    )
    with caplog.at_level(logging.WARNING):
        data = load_csv(path, "text", label_column="label")
    assert list(data.x) == ["good, really", "bad", "fine\nok"]
    assert data.label_names == ["neg", "pos"]
    assert list(data.y) == [1, 0, 1]
    assert "Skipped 1 row(s)" in caplog.text
    assert load_csv(path, "text").y is None


def test_csv_numeric_labels_sort_numerically(tmp_path):
    path = tmp_path / "numbers.csv"
    path.write_text("t,l\na,10\nb,2\nc,1\n")
    data = load_csv(path, "t", "l")
    assert data.label_names == ["1", "2", "10"]
    assert list(data.y) == [2, 1, 0]


def test_csv_errors(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("text,label\nhello,a\nworld,\n")
    with pytest.raises(ValueError, match=r"Received: text_column='body'.*'text', 'l"):
        load_csv(path, "body")
    with pytest.raises(ValueError, match=r"Received: label_column='y'"):
        load_csv(path, "text", "y")
    with pytest.raises(ValueError, match=r"Missing label .*row 3"):
        load_csv(path, "text", "label")
    path.write_bytes(b"text\nh\xffi\n")
    with pytest.raises(ValueError, match=r"not valid UTF-8: line 2"):
        load_csv(path, "text")
    path.write_text("text\n")
    with pytest.raises(ValueError, match=r"empty: no examples found in CSV file"):
        load_csv(path, "text")


def test_from_arrays_images():
    x = np.zeros((5, 6, 7), dtype=np.int32)
    data = from_arrays(x, y=[0, 1, 2, 1, 0], label_names=["a", "b", "c"])
    assert data.x.shape == (5, 6, 7, 1) and data.x.dtype == np.uint8
    assert data.y.dtype == np.int64 and data.name == "arrays"
    assert from_arrays(np.zeros((2, 3, 3, 3), np.uint8), name="mine").name == "mine"


def test_from_arrays_texts():
    data = from_arrays(["a", b"b\xc3\xa9"], y=np.array([1, 0]))
    assert data.x.dtype == object and list(data.x) == ["a", "bé"]
    assert from_arrays(np.array(["x", "y"])).x.dtype == object


@pytest.mark.parametrize(
    "x, match",
    [
        (np.zeros((4, 4)), r"shape \(4, 4\) and dtype float64"),
        (np.zeros((2, 4, 4), np.float32), r"dtype float32.*\* 255"),
        (np.full((2, 3, 3), 300), r"values in \[300, 300\]"),
        (np.array([["a"], ["b"]]), r"1-D array of strings. Received: x with shape"),
        (np.zeros((0, 3, 3), np.uint8), r"empty: no examples found in `x`"),
    ],
)
def test_from_arrays_rejects_bad_x(x, match):
    with pytest.raises(ValueError, match=match):
        from_arrays(x)


@pytest.mark.parametrize(
    "y, match",
    [
        ([0, 1], r"Received: y with shape \(2,\) and dtype int64"),
        ([[0], [1], [2]], r"Received: y with shape \(3, 1\)"),
        ([0.0, 1.0, 0.0], r"dtype float64"),
        ([0, -1, 0], r"Received: min\(y\)=-1"),
    ],
)
def test_from_arrays_rejects_bad_y(y, match):
    with pytest.raises(ValueError, match=match):
        from_arrays(np.zeros((3, 2, 2), np.uint8), y=y)


def test_from_arrays_rejects_bad_label_names():
    x = np.zeros((3, 2, 2), np.uint8)
    with pytest.raises(ValueError, match=r"requires `y`. Received: y=None"):
        from_arrays(x, label_names=["a"])
    with pytest.raises(ValueError, match=r"max\(y\)=2\). Received: label_names="):
        from_arrays(x, y=[0, 1, 2], label_names=["a", "b"])


def test_load_tfds_without_tensorflow_datasets(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    with pytest.raises(ImportError, match=r"pip install keras-ssl\[tfds\]"):
        load_tfds("mnist")
    with pytest.raises(ValueError, match=r"Received: name=''"):
        load_tfds("")


def test_image_folder_skip_invalid_counts_the_skipped_files(tmp_path, caplog):
    write_image(tmp_path / "a" / "ok.png", 8, 8)
    write_image(tmp_path / "b" / "ok.png", 8, 8)
    (tmp_path / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n cut")
    (tmp_path / "b" / "empty.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match=r"broken\.png.*skip_invalid=True"):
        load_image_folder(tmp_path)
    with caplog.at_level(logging.WARNING):
        data = load_image_folder(tmp_path, skip_invalid=True)
    assert len(data) == 2 and list(data.y) == [0, 1]
    assert "Skipped 2 undecodable image file(s)" in caplog.text
    with pytest.raises(ValueError, match=r"`skip_invalid` must be True or False"):
        load_image_folder(tmp_path, skip_invalid="yes")


def test_image_folder_decode_errors_carry_no_tensorflow_internals(tmp_path):
    write_image(tmp_path / "a" / "ok.png", 8, 8)
    (tmp_path / "a" / "bad.gif").write_bytes(b"GIF89a")
    with pytest.raises(ValueError) as info:
        load_image_folder(tmp_path)
    message = str(info.value)
    assert "bad.gif' (6 bytes)" in message
    assert "[Op:" not in message and "function_node" not in message


def test_missing_and_unreadable_text_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Received: path='.*nope\.txt'"):
        load_text_file(tmp_path / "nope.txt")
    with pytest.raises(ValueError, match="not a folder"):
        load_csv(tmp_path, "text")


def test_to_tf_dataset_drop_remainder_needs_a_full_batch():
    data = from_arrays(np.zeros((4, 2, 2), np.uint8), [0, 1, 0, 1])
    assert len(list(data.to_tf_dataset(4, drop_remainder=True))) == 1
    assert len(list(data.to_tf_dataset(8))) == 1  # the short batch is kept
    with pytest.raises(ValueError, match="batch_size=5 for 4 examples"):
        data.to_tf_dataset(5, drop_remainder=True)
