"""TFRecord shards: `write_shards` then `stream_shards` gives back the source.

Shards written from in-memory images and texts, an image folder, a text
file and a CSV file stream the same examples as the in-memory loaders (in
file order); the index records counts and checksums; a resumed stream over
several shards sees what an uninterrupted one sees; and a damaged, renamed,
missing, truncated or foreign shard set is refused with a message naming
the file before anything trains.
"""

import hashlib
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.datasets import (
    from_arrays,
    load_csv,
    load_image_folder,
    load_text_file,
    read_index,
    stream_shards,
    write_shards,
)

IMAGES = np.random.default_rng(0).integers(0, 256, (11, 8, 10, 1), dtype=np.uint8)
LABELS = np.arange(11) % 3


def write_png(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(np.asarray(image, np.uint8)).numpy())


def as_arrays(dataset):
    xs, ys = [], []
    for element in dataset:
        x, y = element if isinstance(element, tuple) else (element, None)
        xs.append(x.numpy())
        if y is not None:
            ys.append(int(y))
    return np.asarray(xs), (ys if ys else None)


@pytest.fixture
def shards(tmp_path):
    """11 labelled 8x10 images in 4 shards of 3, 3, 3 and 2."""
    data = from_arrays(IMAGES, LABELS, ["a", "b", "c"], name="arrays")
    out = tmp_path / "shards"
    write_shards(data, out, shard_size=3, verbose=0)
    return out


def test_in_memory_images(shards):
    folder, index = read_index(shards)
    assert folder == str(shards)
    assert index["count"] == 11 and index["modality"] == "image"
    assert index["label_names"] == ["a", "b", "c"] and index["skipped"] == 0
    assert index["image_shape"] == [8, 10, 1]
    assert [s["count"] for s in index["shards"]] == [3, 3, 3, 2]
    for shard in index["shards"]:
        content = (shards / shard["file"]).read_bytes()
        assert shard["bytes"] == len(content)
        assert shard["sha256"] == hashlib.sha256(content).hexdigest()
    data = stream_shards(shards)
    assert data.num_examples == 11 and data.num_files == 4
    assert data.image_shape == (8, 10, 1) and data.label_names == ["a", "b", "c"]
    xs, ys = as_arrays(data.examples())  # file order
    np.testing.assert_array_equal(xs, IMAGES)
    assert ys == LABELS.tolist()
    # Resized in the pipeline.
    small = stream_shards(shards, image_size=(9, 9))
    assert small.image_shape == (9, 9, 1)
    assert next(iter(small.examples()))[0].shape == (9, 9, 1)


def test_labels_without_names_and_unlabelled(tmp_path):
    write_shards(from_arrays(IMAGES, LABELS), tmp_path / "a", verbose=0)
    data = stream_shards(tmp_path / "a")
    assert data.label_names == ["0", "1", "2"]  # the labels are kept
    assert as_arrays(data.examples())[1] == LABELS.tolist()
    write_shards(from_arrays(IMAGES), tmp_path / "b", verbose=0)
    data = stream_shards(tmp_path / "b")
    assert not data.labelled and data.label_names is None
    xs, ys = as_arrays(data.examples())
    np.testing.assert_array_equal(xs, IMAGES)
    assert ys is None


def test_in_memory_texts(tmp_path):
    texts = ["ünïcode text", "second, with a comma", 'a "quote"']
    write_shards(
        from_arrays(texts, [1, 0, 1], ["neg", "pos"]), tmp_path / "t", verbose=0
    )
    data = stream_shards(tmp_path / "t")
    assert data.modality == "text" and data.label_names == ["neg", "pos"]
    rows = [(x.numpy().decode("utf-8"), int(y)) for x, y in data.examples()]
    assert rows == [("ünïcode text", 1), ("second, with a comma", 0), ('a "quote"', 1)]


@pytest.fixture
def image_folder(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "images"
    for i, (label, channels) in enumerate(
        [("cat", 1), ("cat", 3), ("ant", 3), ("ant", 1), ("cat", 1)]
    ):
        image = rng.integers(0, 256, (12, 12, channels), dtype=np.uint8)
        write_png(root / label / f"{i}.png", image)
    write_png(root / "ant" / "deeper" / "9.png", rng.integers(0, 256, (12, 12, 1)))
    return root


@pytest.mark.parametrize(
    "color_mode, image_size", [("grayscale", None), ("rgb", (8, 9))]
)
def test_image_folder(image_folder, tmp_path, color_mode, image_size):
    index = write_shards(
        image_folder,
        tmp_path / "out",
        shard_size=4,
        color_mode=color_mode,
        image_size=image_size,
        verbose=0,
    )
    loaded = load_image_folder(image_folder, image_size, color_mode)
    assert index["count"] == len(loaded) == 6
    assert index["label_names"] == loaded.label_names == ["ant", "cat"]
    data = stream_shards(tmp_path / "out")
    assert data.image_shape == loaded.x.shape[1:]
    xs, ys = as_arrays(data.examples())
    np.testing.assert_array_equal(xs, loaded.x)
    assert ys == loaded.y.tolist()


def test_flat_folder(tmp_path):
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (3, 9, 9, 1), dtype=np.uint8)
    for i, image in enumerate(images):
        write_png(tmp_path / "flat" / f"{i}.png", image)
    index = write_shards(tmp_path / "flat", tmp_path / "out", verbose=0)
    assert index["label_names"] is None and index["count"] == 3
    xs, ys = as_arrays(stream_shards(tmp_path / "out").examples())
    np.testing.assert_array_equal(xs, images)
    assert ys is None


def test_text_file(tmp_path):
    path = tmp_path / "docs.txt"
    path.write_bytes(
        "\ufeff  first doc\r\n\n\u00a0\nmid\rline carriage return\nlast  ".encode()
    )
    write_shards(path, tmp_path / "out", shard_size=2, verbose=0)
    loaded = load_text_file(path)
    data = stream_shards(tmp_path / "out")
    texts = [t.numpy().decode("utf-8") for t in data.examples()]
    assert (
        texts
        == list(loaded.x)
        == [
            "first doc",
            "mid\rline carriage return",
            "last",
        ]
    )
    assert data.num_examples == 3 and data.num_files == 2


def test_csv_file(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_bytes(
        (
            "\ufefflabel,text\n"
            'pos,"good, very good"\n'
            'neg,"a ""quoted"" and\nsplit text"\n'
            "\n"
            'neg,unquoted "quote" inside\n'  # fine here, unlike stream_csv
            "pos,\n"
        ).encode()
    )
    index = write_shards(
        path, tmp_path / "out", label_column="label", text_column="text", verbose=0
    )
    loaded = load_csv(path, "text", "label")
    assert index["label_names"] == loaded.label_names == ["neg", "pos"]
    data = stream_shards(tmp_path / "out")
    rows = [(t.numpy().decode("utf-8"), int(y)) for t, y in data.examples()]
    assert rows == list(zip(loaded.x, loaded.y.tolist()))
    assert len(rows) == 3 and rows[1] == ('a "quoted" and\nsplit text', 0)


def batches_as_lists(dataset, take):
    return [tuple(t.numpy().tolist() for t in batch) for batch in dataset.take(take)]


def test_resume_over_several_shards(shards):
    data = stream_shards(shards)
    kwargs = {"shuffle": True, "seed": 7, "repeat": True, "drop_remainder": True}
    full = batches_as_lists(data.batches(4, **kwargs), 10)  # 40 records: 3+ epochs
    for start in (1, 3, 6):
        resumed = data.batches(4, start_batch=start, **kwargs)
        assert batches_as_lists(resumed, 10 - start) == full[start:]
    assert batches_as_lists(data.batches(4, **kwargs), 10) == full
    other = batches_as_lists(data.batches(4, **{**kwargs, "seed": 8}), 10)
    assert other != full
    labels = [y for _, ys in full for y in ys]
    in_order = [y for _, ys in batches_as_lists(data.batches(4), 3) for y in ys]
    assert in_order == LABELS.tolist() and labels[:11] != in_order


def test_sample(shards):
    data = stream_shards(shards)
    a, b = data.sample(5, seed=3), data.sample(5, seed=3)
    assert len(a) == 5 and a.label_names == ["a", "b", "c"]
    np.testing.assert_array_equal(a.x, b.x)
    assert {x.tobytes() for x in a.x} <= {x.tobytes() for x in IMAGES}
    assert not np.array_equal(data.sample(5, seed=4).x, a.x)


def test_refuses_an_existing_folder(shards, tmp_path):
    before = sorted(os.listdir(shards))
    with pytest.raises(FileExistsError, match=r"Received: output_dir=.*shards"):
        write_shards(from_arrays(IMAGES), shards, verbose=0)
    assert sorted(os.listdir(shards)) == before


def test_missing_and_renamed_shards(shards):
    (shards / "shard-00002.tfrecord").rename(shards / "renamed.tfrecord")
    with pytest.raises(
        FileNotFoundError, match=r"missing, e\.g\. 'shard-00002.*renamed\.tfrecord"
    ):
        stream_shards(shards)
    (shards / "renamed.tfrecord").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 shard\(s\).*'shard-00002"):
        stream_shards(shards)


def test_checksum_and_size_mismatch(shards):
    path = shards / "shard-00001.tfrecord"
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 1  # a bit flip: same size
    path.write_bytes(bytes(content))
    with pytest.raises(ValueError, match=r"Checksum mismatch .*shard-00001"):
        stream_shards(shards)
    stream_shards(shards, verify=False)  # only the sizes are checked
    path.write_bytes(bytes(content[:-5]))
    with pytest.raises(ValueError, match=r"shard-00001.* has \d+ bytes. Expected"):
        stream_shards(shards, verify=False)


def rewrite_index(folder, change):
    path = folder / "index.json"
    index = json.loads(path.read_text())
    change(index)
    path.write_text(json.dumps(index))


def write_records(path, records):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)


def refresh(index, folder, position=0):
    shard = index["shards"][position]
    content = (folder / shard["file"]).read_bytes()
    shard["bytes"] = len(content)
    shard["sha256"] = hashlib.sha256(content).hexdigest()


def test_wrong_features_and_foreign_records(shards):
    png = tf.io.encode_png(IMAGES[0]).numpy()
    feature = tf.train.Feature(bytes_list=tf.train.BytesList(value=[png]))
    example = tf.train.Example(features=tf.train.Features(feature={"img": feature}))
    write_records(shards / "shard-00000.tfrecord", [example.SerializeToString()] * 3)
    rewrite_index(shards, lambda index: refresh(index, shards))
    with pytest.raises(
        ValueError, match=r"wrong features. Received: \['img'\]. Expected: \['image'"
    ):
        stream_shards(shards)
    write_records(shards / "shard-00000.tfrecord", [b"\xff not a proto"] * 3)
    rewrite_index(shards, lambda index: refresh(index, shards))
    with pytest.raises(ValueError, match=r"shard-00000.* not tf.train.Example"):
        stream_shards(shards)


@pytest.mark.parametrize("name", ["../x.tfrecord", "/etc/x.tfrecord", "a/b", ".."])
def test_index_naming_a_file_outside(shards, name):
    rewrite_index(shards, lambda index: index["shards"][0].update(file=name))
    with pytest.raises(ValueError, match=r"outside its folder. Received: file="):
        stream_shards(shards)


def test_bad_indexes(shards, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No shard index"):
        stream_shards(tmp_path)
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"not valid JSON"):
        stream_shards(tmp_path)
    (tmp_path / "index.json").write_text('{"format": "other"}')
    with pytest.raises(ValueError, match=r"not a keras_ssl shard index"):
        stream_shards(tmp_path)
    rewrite_index(shards, lambda index: index.update(shards=[]))
    with pytest.raises(ValueError, match=r"incomplete.*shards \(a non-empty list\)"):
        stream_shards(shards)
    rewrite_index(shards, lambda index: index.pop("count"))
    with pytest.raises(ValueError, match=r"incomplete. Received: no count"):
        stream_shards(shards)


def test_write_errors_leave_nothing(tmp_path):
    def leftovers():
        return sorted(n for n in os.listdir(tmp_path) if n.startswith(".out"))

    rng = np.random.default_rng(3)
    write_png(tmp_path / "src" / "a" / "1.png", rng.integers(0, 256, (9, 9, 1)))
    write_png(tmp_path / "src" / "a" / "2.png", rng.integers(0, 256, (9, 9, 3)))
    with pytest.raises(
        ValueError, match=r"mixed channel counts.*\(9, 9, 3\).*\(9, 9, 1\).*color_mode"
    ):
        write_shards(tmp_path / "src", tmp_path / "out", verbose=0)
    assert not (tmp_path / "out").exists() and leftovers() == []
    write_shards(tmp_path / "src", tmp_path / "out", color_mode="rgb", verbose=0)
    assert stream_shards(tmp_path / "out").image_shape == (9, 9, 3)
    write_png(tmp_path / "src" / "b" / "3.png", rng.integers(0, 256, (10, 9, 3)))
    with pytest.raises(ValueError, match=r"mixed sizes.*\(10, 9, 3\).*image_size"):
        write_shards(tmp_path / "src", tmp_path / "out2", color_mode="rgb", verbose=0)
    assert not (tmp_path / "out2").exists() and leftovers() == []
    write_shards(
        tmp_path / "src",
        tmp_path / "out2",
        image_size=(9, 9),
        color_mode="rgb",
        verbose=0,
    )
    assert stream_shards(tmp_path / "out2").num_examples == 3


def test_latin1_text(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("café crème\nnaïve\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"not valid utf-8: line 1.*encoding="):
        write_shards(path, tmp_path / "out", verbose=0)
    assert not (tmp_path / "out").exists()
    write_shards(path, tmp_path / "out", encoding="latin-1", verbose=0)
    texts = [
        t.numpy().decode("utf-8") for t in stream_shards(tmp_path / "out").examples()
    ]
    assert texts == ["café crème", "naïve"]
    csv_path = tmp_path / "latin.csv"
    csv_path.write_bytes("text\ncafé\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"not valid utf-8.*encoding"):
        write_shards(csv_path, tmp_path / "csv", verbose=0)
    write_shards(csv_path, tmp_path / "csv", encoding="latin-1", verbose=0)
    texts = [t.numpy().decode() for t in stream_shards(tmp_path / "csv").examples()]
    assert texts == ["café"]


@pytest.mark.parametrize(
    "image_format, shape, stored",
    [
        ("auto", (9, 9, 1), "raw"),
        ("auto", (72, 72, 1), "png"),
        ("raw", (72, 72, 1), "raw"),
        ("encoded", (9, 9, 1), "png"),
    ],
)
def test_image_formats_store_and_read_the_same_pixels(
    tmp_path, image_format, shape, stored
):
    images = np.random.default_rng(1).integers(0, 256, (7, *shape), np.uint8)
    data = from_arrays(images, np.arange(7) % 3)
    index = write_shards(
        data, tmp_path / "s", shard_size=3, image_format=image_format, verbose=0
    )
    assert index["image_format"] == stored
    stream = stream_shards(tmp_path / "s")
    one_by_one = np.asarray([x.numpy() for x, _ in stream.examples()])
    batched = np.concatenate([x.numpy() for x, _ in stream.batches(4)])
    np.testing.assert_array_equal(one_by_one, images)
    np.testing.assert_array_equal(batched, images)
    resized = stream_shards(tmp_path / "s", image_size=(8, 8))
    assert next(iter(resized.batches(7)))[0].shape == (7, 8, 8, 1)


def test_unknown_image_format_is_a_clear_error(tmp_path):
    data = from_arrays(np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"image_format.*'png'"):
        write_shards(data, tmp_path / "s", image_format="png", verbose=0)
