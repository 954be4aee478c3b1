"""Bad input to the streaming sources: a clear error, or a counted skip.

Corrupt and truncated images in a folder, a record of a shard whose image
does not decode, a shard whose bytes are damaged under a matching index,
images too small to learn from, a text file in another encoding and empty
sources each stop with a `ValueError` (or `FileNotFoundError`) naming the
file (and record), or, with `skip_invalid=True`, are skipped and counted in
`StreamedData.skipped`; `pretrain` does the same on a streamed folder.
"""

import hashlib
import json

import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.datasets import (
    from_arrays,
    stream_csv,
    stream_image_folder,
    stream_shards,
    stream_text_file,
    write_shards,
)
from keras_ssl.datasets.streaming_sources import MIN_IMAGE_SIDE


def png_bytes(seed, size=(10, 10), channels=1):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (*size, channels), dtype=np.uint8)
    return tf.io.encode_png(image).numpy()


def good_images(root, count=3, prefix="", size=(10, 10)):
    for i in range(count):
        for label in ("a", "b"):
            path = root / label / f"{prefix}{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(png_bytes(i + 10 * (label == "b"), size))


@pytest.fixture
def damaged_folder(tmp_path):
    """Six good PNGs in two classes, a corrupt file in the middle of the
    file order and a truncated PNG last."""
    root = tmp_path / "images"
    good_images(root)
    (root / "a" / "1_corrupt.png").write_bytes(b"\x89PNG not really")
    (root / "b" / "9_truncated.png").write_bytes(png_bytes(99)[:40])
    return root


def test_folder_with_bad_files_stops_naming_the_file(damaged_folder):
    data = stream_image_folder(damaged_folder)
    assert data.num_examples == 8
    data.check_readable()  # the first file is fine
    with pytest.raises(ValueError, match=r"the file '.*1_corrupt\.png'.*skip_invalid"):
        data.check_readable(count=8)
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        list(data.examples(shuffle=True, seed=0))
    error = data.describe_error(info.value)
    assert "1_corrupt.png" in str(error) and "function_node" not in str(error)
    with pytest.raises(ValueError, match=r"1_corrupt\.png"):
        data.sample(8)
    # A bad first file is named at once, or by check_readable.
    (damaged_folder / "a" / "0.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"Could not decode image file .*0\.png"):
        stream_image_folder(damaged_folder)
    data = stream_image_folder(damaged_folder, image_size=(10, 10))
    with pytest.raises(ValueError, match=r"The first bad record is the file .*0\.png"):
        data.check_readable()


def test_folder_skip_invalid_counts(damaged_folder):
    data = stream_image_folder(damaged_folder, skip_invalid=True)
    images = [x.numpy() for x, _ in data.examples()]
    assert len(images) == 6
    # The last file of the order fails too: counted when the pass ends.
    assert data.skipped == 2
    labels = [int(y) for _, y in data.examples(shuffle=True, seed=1)]
    assert sorted(labels) == [0, 0, 0, 1, 1, 1] and data.skipped == 4
    # Resume with skipped records: parsed batches are skipped (by count).
    kwargs = {"shuffle": True, "seed": 2, "repeat": True}
    full = [y.numpy().tolist() for _, y in data.batches(4, **kwargs).take(6)]
    for start in (1, 4):
        resumed = data.batches(4, start_batch=start, **kwargs).take(6 - start)
        assert [y.numpy().tolist() for _, y in resumed] == full[start:]


def write_shards_of(tmp_path, count=9, shard_size=3, image_format="encoded"):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (count, 9, 9, 1), dtype=np.uint8)
    data = from_arrays(images, np.arange(count) % 2, ["even", "odd"])
    write_shards(
        data,
        tmp_path / "shards",
        shard_size=shard_size,
        image_format=image_format,
        verbose=0,
    )
    return tmp_path / "shards", images


def replace_shard(folder, position, records):
    """Writes `records` as shard `position` and updates its size and
    checksum in the index (so that only the records are wrong)."""
    index_path = folder / "index.json"
    index = json.loads(index_path.read_text())
    path = folder / index["shards"][position]["file"]
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)
    content = path.read_bytes()
    index["shards"][position].update(
        bytes=len(content), sha256=hashlib.sha256(content).hexdigest()
    )
    index_path.write_text(json.dumps(index))
    return path


def example(image_bytes, label):
    features = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image_bytes])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
    }
    return tf.train.Example(features=tf.train.Features(feature=features))


def test_shard_record_that_does_not_decode(tmp_path):
    folder, images = write_shards_of(tmp_path)
    records = [
        example(tf.io.encode_png(images[3]).numpy(), 1),
        example(b"garbage, not an image", 0),
        example(tf.io.encode_png(images[5]).numpy(), 1),
    ]
    path = replace_shard(folder, 1, [r.SerializeToString() for r in records])
    data = stream_shards(folder)
    data.check_readable()
    with pytest.raises(ValueError, match=rf"record 1 of the shard '{path}'"):
        data.check_readable(count=9)
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        list(data.examples(shuffle=True, seed=0))
    assert f"record 1 of the shard '{path}'" in str(data.describe_error(info.value))
    data = stream_shards(folder, skip_invalid=True)
    xs = np.asarray([x.numpy() for x, _ in data.examples()])
    np.testing.assert_array_equal(xs, np.delete(images, 4, axis=0))
    assert data.skipped == 1


def test_raw_shard_record_of_the_wrong_length(tmp_path):
    folder, images = write_shards_of(tmp_path, image_format="raw")
    records = [
        example(images[3].tobytes(), 1),
        example(images[4].tobytes()[:-1], 0),  # one byte short
        example(images[5].tobytes(), 1),
    ]
    path = replace_shard(folder, 1, [r.SerializeToString() for r in records])
    with pytest.raises(ValueError, match=rf"record 1 of the shard '{path}'"):
        stream_shards(folder).check_readable(count=9)
    data = stream_shards(folder, skip_invalid=True)
    xs = np.asarray([x.numpy() for x, _ in data.examples()])
    np.testing.assert_array_equal(xs, np.delete(images, 4, axis=0))
    assert data.skipped == 1


def test_shard_with_damaged_bytes_under_a_matching_index(tmp_path):
    folder, images = write_shards_of(tmp_path, count=12, shard_size=4)
    index = json.loads((folder / "index.json").read_text())
    path = folder / index["shards"][1]["file"]
    content = bytearray(path.read_bytes())
    content[len(content) // 2 + 5] ^= 0xFF  # inside record 2's data
    path.write_bytes(bytes(content))
    index["shards"][1]["sha256"] = hashlib.sha256(content).hexdigest()
    (folder / "index.json").write_text(json.dumps(index))
    data = stream_shards(folder)  # size and checksum match the index
    with pytest.raises(
        ValueError, match=rf"corrupted record.*record 2 of the shard '{path}'"
    ):
        data.check_readable(count=12)
    data = stream_shards(folder, skip_invalid=True)
    xs = np.asarray([x.numpy() for x, _ in data.examples()])
    # TensorFlow cannot find the records after a damaged one in its shard:
    # record 2 and record 3 are lost, and counted.
    np.testing.assert_array_equal(xs, np.delete(images, [6, 7], axis=0))
    assert data.skipped == 2


def test_text_shards_skip_nothing(tmp_path):
    path = tmp_path / "docs.txt"
    path.write_text("one\ntwo\nthree\n", encoding="utf-8")
    write_shards(path, tmp_path / "shards", shard_size=2, verbose=0)
    data = stream_shards(tmp_path / "shards", skip_invalid=True)
    assert [t.numpy() for t in data.examples()] == [b"one", b"two", b"three"]
    assert data.skipped == 0


def test_images_too_small(tmp_path):
    good_images(tmp_path / "tiny", size=(1, 1))
    with pytest.raises(ValueError, match=r"1x1 pixels.*at least 8x8.*`image_size="):
        stream_image_folder(tmp_path / "tiny")
    assert MIN_IMAGE_SIDE == 8
    with pytest.raises(ValueError, match=r"1x1 pixels.*at least 8x8.*`image_size="):
        write_shards(tmp_path / "tiny", tmp_path / "out", verbose=0)
    assert not (tmp_path / "out").exists()
    data = stream_image_folder(tmp_path / "tiny", image_size=(8, 8))
    images = [x.numpy() for x, _ in data.examples()]
    assert len(images) == 6 and images[0].shape == (8, 8, 1)
    assert (images[0] == images[0][0, 0]).all()  # one pixel, upscaled
    write_shards(tmp_path / "tiny", tmp_path / "out", image_size=(8, 8), verbose=0)
    assert stream_shards(tmp_path / "out").image_shape == (8, 8, 1)


def test_latin1_text(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("première ligne\n\ndeuxième, café\n".encode("latin-1"))
    with pytest.raises(
        ValueError,
        match=r"not valid utf-8: line 1 .*Received: encoding='utf-8'.*latin-1",
    ):
        stream_text_file(path)
    data = stream_text_file(path, encoding="latin-1")
    texts = [t.numpy().decode("utf-8") for t in data.examples()]
    assert texts == ["première ligne", "deuxième, café"] and data.num_examples == 2
    with pytest.raises(ValueError, match=r"Unknown text encoding.*'latin-9000'"):
        stream_text_file(path, encoding="latin-9000")
    csv_path = tmp_path / "latin.csv"
    csv_path.write_bytes("text\ncafé\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"not valid utf-8.*--encoding"):
        stream_csv(csv_path)
    with pytest.raises(ValueError, match=r"reads UTF-8 only.*convert"):
        stream_csv(csv_path, encoding="latin-1")


def test_empty_sources(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"empty.*image folder"):
        stream_image_folder(tmp_path / "empty")
    with pytest.raises(ValueError, match=r"empty.*image folder"):
        write_shards(tmp_path / "empty", tmp_path / "out", verbose=0)
    with pytest.raises(FileNotFoundError, match="No shard index"):
        stream_shards(tmp_path / "empty")
    (tmp_path / "blank.txt").write_text("\n  \n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"empty.*blank\.txt"):
        stream_text_file(tmp_path / "blank.txt")
    with pytest.raises(FileNotFoundError, match=r"Received: path=.*missing\.txt"):
        stream_text_file(tmp_path / "missing.txt")
    good_images(tmp_path / "bad_only", count=0)
    (tmp_path / "bad_only" / "a").mkdir(parents=True)
    (tmp_path / "bad_only" / "a" / "x.png").write_bytes(b"nothing")
    with pytest.raises(ValueError, match=r"every image was skipped"):
        write_shards(
            tmp_path / "bad_only", tmp_path / "out", skip_invalid=True, verbose=0
        )
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_pretrain_on_a_folder_with_a_corrupt_image(tmp_path):
    from keras_ssl.app.pretrain import pretrain

    root = tmp_path / "images"
    good_images(root, count=24, size=(12, 12))  # 49 files: 3 batches of 16
    (root / "b" / "05_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    kwargs = {
        "method": "simclr",
        "dataset": str(root),
        "output_dir": str(tmp_path / "runs"),
        "epochs": 1,
        "batch_size": 16,
        "steps_per_epoch": 3,
        "verbose": 0,
        "deterministic": True,
        "stream": True,
        "model_kwargs": {"widths": (8, 16)},
    }
    with pytest.raises(ValueError, match=r"05_corrupt\.png.*skip_invalid"):
        pretrain(**kwargs)
    result = pretrain(**kwargs, skip_invalid=True)
    with open(f"{result['run_dir']}/metrics.json") as f:
        metrics = json.load(f)
    assert metrics["invalid_records_skipped"] >= 1
    assert metrics["steps"] == 3 and np.isfinite(metrics["loss"])
