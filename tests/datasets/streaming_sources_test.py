"""The streaming sources yield what the in-memory loaders load.

Image folders, text and CSV files, `tf.data` datasets and a TFDS dataset
prepared in `tmp_path` are streamed and compared, example by example (in
file order) and as multisets (shuffled), with `load_image_folder`,
`load_text_file`, `load_csv` and the arrays they were made from; then the
seeded order, exact resume (`start_batch`) and `sample`.
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.datasets import (
    from_dataset,
    load_csv,
    load_image_folder,
    load_text_file,
    stream_csv,
    stream_image_folder,
    stream_text_file,
    stream_tfds,
)

#: An 8x8 GIF: left half (200, 100, 50), right half (10, 20, 30).
GIF = bytes.fromhex(
    "47494638376108000800810000c864320a141e0000000000002c000000000800080000"
    "081b0001080410a0608081040d2234787020c3850a1d4614f85062c180003b"
)


def write_png(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(image).numpy())


def random_image(seed, height=12, width=12, channels=1):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, channels), dtype=np.uint8)


@pytest.fixture
def image_folder(tmp_path):
    """Two classes, greyscale and RGB PNGs, a nested folder, and files the
    loaders ignore (a text file, a hidden folder, a top-level image)."""
    root = tmp_path / "images"
    write_png(root / "cat" / "a.png", random_image(0))
    write_png(root / "cat" / "nested" / "b.png", random_image(1, channels=3))
    write_png(root / "cat" / "c.png", random_image(2))
    write_png(root / "ant" / "d.png", random_image(3, channels=3))
    write_png(root / "ant" / "e.png", random_image(4))
    (root / "ant" / "notes.txt").write_text("not an image")
    write_png(root / ".hidden" / "f.png", random_image(5))
    write_png(root / "top_level.png", random_image(6))
    return root


def as_arrays(dataset):
    """`(xs, ys)` of a dataset of `(x, y)` (or `x`, with `ys=None`)."""
    xs, ys = [], []
    for element in dataset:
        x, y = element if isinstance(element, tuple) else (element, None)
        xs.append(x.numpy())
        if y is not None:
            ys.append(int(y))
    return np.asarray(xs), (ys if ys else None)


def multiset(xs, ys=None):
    """The examples as a sorted list of (bytes, label): order aside."""
    ys = [None] * len(xs) if ys is None else ys
    return sorted((np.asarray(x).tobytes(), y) for x, y in zip(xs, ys))


@pytest.mark.parametrize(
    "color_mode, image_size", [("grayscale", None), ("rgb", (8, 10))]
)
def test_image_folder_equals_load_image_folder(image_folder, color_mode, image_size):
    loaded = load_image_folder(image_folder, image_size, color_mode)
    streamed = stream_image_folder(image_folder, image_size, color_mode)
    assert streamed.num_examples == len(loaded) == 5
    assert streamed.label_names == loaded.label_names == ["ant", "cat"]
    assert streamed.image_shape == loaded.x.shape[1:]
    assert streamed.labelled and streamed.modality == "image"
    xs, ys = as_arrays(streamed.examples())  # file order
    np.testing.assert_array_equal(xs, loaded.x)
    assert ys == loaded.y.tolist() == [0, 0, 1, 1, 1]
    xs, ys = as_arrays(streamed.examples(shuffle=True, seed=1))
    assert multiset(xs, ys) == multiset(loaded.x, loaded.y.tolist())
    assert not np.array_equal(ys, loaded.y)  # shuffled indeed


def test_flat_folder_unlabelled(tmp_path):
    flat = tmp_path / "root" / "flat"
    for i in range(3):
        write_png(flat / f"{i}.png", random_image(i, 10, 9))
    write_png(flat / "deeper" / "z.png", random_image(9, 10, 9))
    loaded = load_image_folder(tmp_path / "root")  # "flat" as its one class
    streamed = stream_image_folder(flat, labels=None)
    assert streamed.label_names is None and not streamed.labelled
    assert streamed.num_examples == 4 and streamed.image_shape == (10, 9, 1)
    assert streamed.examples().element_spec.shape == (10, 9, 1)
    xs, ys = as_arrays(streamed.examples())
    assert ys is None
    np.testing.assert_array_equal(xs, loaded.x)
    # Without labels="inferred"'s class folders, nothing is found.
    with pytest.raises(ValueError, match="empty"):
        stream_image_folder(flat / "deeper")


def test_image_folder_sizes_and_formats(tmp_path):
    # Without image_size, the first image's size; others are resized to it.
    write_png(tmp_path / "a" / "1.png", random_image(0, 12, 16))
    write_png(tmp_path / "a" / "2.png", random_image(1, 24, 32))
    streamed = stream_image_folder(tmp_path)
    assert streamed.image_shape == (12, 16, 1)
    resized = load_image_folder(tmp_path, image_size=(12, 16)).x
    xs, _ = as_arrays(streamed.examples())
    np.testing.assert_array_equal(xs, resized)
    # A JPEG decodes with the fast integer DCT: close to the default one.
    jpeg = tmp_path / "b" / "3.jpg"
    jpeg.parent.mkdir()
    jpeg.write_bytes(tf.io.encode_jpeg(random_image(2, 12, 16) // 4 * 4).numpy())
    xs, _ = as_arrays(stream_image_folder(tmp_path).examples())
    reference = load_image_folder(tmp_path, image_size=(12, 16)).x
    np.testing.assert_array_equal(xs[:2], reference[:2])
    assert np.abs(xs[2].astype(int) - reference[2]).max() <= 8


def test_gif_in_grayscale_and_rgb(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.gif").write_bytes(GIF)
    (rgb, _), *_ = stream_image_folder(tmp_path, color_mode="rgb").examples()
    assert rgb.shape == (8, 8, 3)
    np.testing.assert_array_equal(
        rgb[:, :4], np.broadcast_to([200, 100, 50], (8, 4, 3))
    )
    np.testing.assert_array_equal(rgb[:, 4:], np.broadcast_to([10, 20, 30], (8, 4, 3)))
    (grey, _), *_ = stream_image_folder(tmp_path).examples()  # greyscale
    assert grey.shape == (8, 8, 1)
    np.testing.assert_array_equal(grey, tf.image.rgb_to_grayscale(rgb))
    assert grey.numpy()[0, 0, 0] == 124 and grey.numpy()[0, 7, 0] == 18


TEXT = (
    "\ufefffirst document\r\n"
    "\n"
    "   second   one  \n"
    "\u00a0\n"  # a no-break space only: blank, as str.strip() says
    " \t \n"
    'thïrd: ünïcode, "quotes", commas\u3000\n'
    "last line without newline"
)


def test_text_file_equals_load_text_file(tmp_path):
    path = tmp_path / "docs.txt"
    path.write_bytes(TEXT.encode("utf-8"))
    loaded = load_text_file(path)
    streamed = stream_text_file(path)
    assert list(loaded.x) == [
        "first document",
        "second   one",
        'thïrd: ünïcode, "quotes", commas',
        "last line without newline",
    ]
    assert streamed.num_examples == len(loaded) == 4
    assert streamed.modality == "text" and streamed.label_names is None
    texts = [t.numpy().decode("utf-8") for t in streamed.examples()]
    assert texts == list(loaded.x)
    batch = next(iter(streamed.batches(3, shuffle=True, seed=0)))
    assert batch.shape == (3,) and batch.dtype == tf.string


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "cp1252"])
def test_text_file_other_encodings(tmp_path, encoding):
    path = tmp_path / "docs.txt"
    path.write_bytes("Zoë’s café\r\n\r\nnaïve résumé\n".encode(encoding))
    loaded = load_text_file(path, encoding=encoding)
    streamed = stream_text_file(path, encoding=encoding)
    texts = [t.numpy().decode("utf-8") for t in streamed.examples()]
    assert texts == list(loaded.x) == ["Zoë’s café", "naïve résumé"]
    assert streamed.num_examples == 2


CSV = (
    "\ufeffsentiment,id,review\r\n"
    '10,1,"great, really great"\r\n'
    '2,2,"a ""quoted"" word"\r\n'
    "\r\n"
    '10,3,"two\r\nlines"\r\n'
    "2,4,\r\n"  # an empty text: skipped
    "1,5,  spaced out  \r\n"
    "\r\n"
)


def test_csv_equals_load_csv(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_bytes(CSV.encode("utf-8"))
    loaded = load_csv(path, "review", "sentiment")
    streamed = stream_csv(path, text_column="review", label_column="sentiment")
    assert list(loaded.x) == [
        "great, really great",
        'a "quoted" word',
        "two\r\nlines",
        "spaced out",
    ]
    assert streamed.label_names == loaded.label_names == ["1", "2", "10"]
    assert streamed.num_examples == len(loaded) == 4 and streamed.labelled
    rows = [(t.numpy().decode("utf-8"), int(y)) for t, y in streamed.examples()]
    assert rows == list(zip(loaded.x, loaded.y.tolist()))
    assert [y for _, y in rows] == [2, 1, 2, 0]
    unlabelled = stream_csv(path, text_column="review")
    texts = [t.numpy().decode("utf-8") for t in unlabelled.examples()]
    assert texts == list(loaded.x) and not unlabelled.labelled


def test_csv_rows_the_pipeline_cannot_read(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('text,label\nfine,a\nsay "hi" now,b\n', encoding="utf-8")
    assert list(load_csv(path, "text", "label").x) == ["fine", 'say "hi" now']
    with pytest.raises(ValueError, match=r"Row 3 .*quote inside an unquoted"):
        stream_csv(path, label_column="label")
    path.write_text('text,label\n"closed"then more,a\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"Row 2 .*not valid CSV"):
        stream_csv(path, label_column="label")
    path.write_text("text,label\nonly one field\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"Row 2 .*has 1 fields"):
        stream_csv(path, label_column="label")
    with pytest.raises(ValueError, match=r"Received: label_column='stars'"):
        stream_csv(path, label_column="stars")


IMAGES = np.random.default_rng(0).integers(0, 256, (10, 8, 9, 3), dtype=np.uint8)
LABELS = np.arange(10) % 3


@pytest.mark.parametrize(
    "x, y, batch, shape",
    [
        (IMAGES, LABELS, None, (8, 9, 3)),  # labelled, one by one
        (IMAGES, LABELS, 4, (8, 9, 3)),  # labelled, batched
        (IMAGES[..., 0], None, None, (8, 9, 1)),  # rank-2 greyscale
        (IMAGES[..., 0], LABELS, 3, (8, 9, 1)),  # batched rank-2 greyscale
        (IMAGES[..., :1].astype("int32"), None, 5, (8, 9, 1)),
    ],
)
def test_from_dataset(x, y, batch, shape):
    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if batch:
        ds = ds.batch(batch)
    streamed = from_dataset(ds, label_names=None if y is None else ["a", "b", "c"])
    assert streamed.image_shape == shape and streamed.labelled == (y is not None)
    assert streamed.num_examples == (None if batch else 10)
    xs, ys = as_arrays(streamed.examples())
    expected_x = x.reshape((10, *shape)).astype(np.uint8)
    assert xs.dtype == np.uint8
    np.testing.assert_array_equal(xs, expected_x)
    assert ys == (None if y is None else y.tolist())
    xs, ys = as_arrays(streamed.examples(shuffle=True, seed=2))
    expected = multiset(expected_x, None if y is None else y.tolist())
    assert multiset(xs, ys) == expected


def test_from_dataset_texts_and_errors():
    texts = np.array(["alpha", "beta", "gamma"])
    for ds in (
        tf.data.Dataset.from_tensor_slices(texts),
        tf.data.Dataset.from_tensor_slices(texts).batch(2),
    ):
        streamed = from_dataset(ds)
        assert streamed.modality == "text"
        assert [t.numpy() for t in streamed.examples()] == [b"alpha", b"beta", b"gamma"]
    floats = tf.data.Dataset.from_tensor_slices(np.zeros((2, 8, 8, 1), "float32"))
    with pytest.raises(ValueError, match="integer images"):
        from_dataset(floats)
    with pytest.raises(ValueError, match="must be a tf.data.Dataset"):
        from_dataset(IMAGES)
    tiny = tf.data.Dataset.from_tensor_slices(np.zeros((2, 1, 1, 1), "uint8"))
    with pytest.raises(ValueError, match=r"1x1 pixels.*at least 8x8.*image_size"):
        from_dataset(tiny)


TFDS_IMAGES = np.random.default_rng(1).integers(0, 256, (7, 12, 10, 1), np.uint8)
TFDS_LABELS = np.array([0, 1, 2, 0, 1, 2, 0])


def prepare_tiny_tfds(data_dir):
    """Prepares a tiny TFDS dataset (seven 12x10 greyscale images in three
    classes) offline in `data_dir`; its builder class is not registered, so
    `tfds.builder` finds it from the prepared files."""
    tfds = pytest.importorskip("tensorflow_datasets")

    with tfds.core.registered.skip_registration():

        class TinyStreamShapes(tfds.core.GeneratorBasedBuilder):
            VERSION = tfds.core.Version("1.0.0")

            def _info(self):
                features = {
                    "image": tfds.features.Image(shape=(12, 10, 1)),
                    "label": tfds.features.ClassLabel(names=["x", "y", "z"]),
                }
                return tfds.core.DatasetInfo(
                    builder=self,
                    features=tfds.features.FeaturesDict(features),
                    supervised_keys=("image", "label"),
                )

            def _split_generators(self, dl_manager):
                return {"train": self._generate_examples()}

            def _generate_examples(self):
                for i, (image, label) in enumerate(zip(TFDS_IMAGES, TFDS_LABELS)):
                    yield i, {"image": image, "label": int(label)}

    TinyStreamShapes(data_dir=data_dir).download_and_prepare()


def test_tfds(tmp_path):
    data_dir = str(tmp_path / "tfds")
    prepare_tiny_tfds(data_dir)
    streamed = stream_tfds("tiny_stream_shapes", data_dir=data_dir)
    assert streamed.num_examples == 7 and streamed.label_names == ["x", "y", "z"]
    assert streamed.image_shape == (12, 10, 1) and streamed.labelled
    xs, ys = as_arrays(streamed.examples())
    assert multiset(xs, ys) == multiset(TFDS_IMAGES, TFDS_LABELS.tolist())
    resized = stream_tfds("tiny_stream_shapes", data_dir=data_dir, image_size=(8, 8))
    assert resized.image_shape == (8, 8, 1)
    xs, _ = as_arrays(resized.examples())
    assert xs.shape == (7, 8, 8, 1) and xs.dtype == np.uint8
    some = stream_tfds("tiny_stream_shapes", split="train[:3]", data_dir=data_dir)
    assert some.num_examples == 3 and len(list(some.examples())) == 3


def test_tfds_not_prepared(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    empty = str(tmp_path / "empty")
    # A known dataset, never downloaded: nothing is fetched.
    with pytest.raises(FileNotFoundError, match=r"not prepared.*name='mnist'"):
        stream_tfds("mnist", data_dir=empty)
    with pytest.raises(ValueError, match=r"Unknown TFDS dataset.*no_such_set"):
        stream_tfds("no_such_set", data_dir=empty)


def batches_as_lists(dataset, take):
    return [tuple(t.numpy().tolist() for t in batch) for batch in dataset.take(take)]


def test_folder_resume_and_seeds(image_folder):
    data = stream_image_folder(image_folder)
    kwargs = {"shuffle": True, "seed": 4, "repeat": True}
    full = batches_as_lists(data.batches(2, **kwargs), 9)  # 18 examples: 3+ epochs
    for start in (1, 2, 5):
        resumed = data.batches(2, start_batch=start, **kwargs)
        assert batches_as_lists(resumed, 9 - start) == full[start:]
    assert batches_as_lists(data.batches(2, **kwargs), 9) == full
    other = batches_as_lists(data.batches(2, shuffle=True, seed=5, repeat=True), 9)
    assert other != full
    # Each epoch is a new order of the same five examples.
    examples = [(str(x), y) for xs, ys in full for x, y in zip(xs, ys)]
    first, second = examples[:5], examples[5:10]
    assert sorted(first) == sorted(second) and first != second
    assert sorted(y for _, y in first) == [0, 0, 1, 1, 1]


def test_sample(image_folder):
    data = stream_image_folder(image_folder)
    loaded = load_image_folder(image_folder)
    a, b = data.sample(3, seed=1), data.sample(3, seed=1)
    assert len(a) == 3 and a.label_names == ["ant", "cat"]
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    everything = multiset(loaded.x, loaded.y.tolist())
    assert set(multiset(a.x, a.y.tolist())) <= set(everything)
    orders = {data.sample(5, seed=s).y.tobytes() for s in range(6)}
    assert len(orders) > 1  # other seeds, other orders
    assert multiset(data.sample(50, seed=0).x, data.sample(50, seed=0).y.tolist()) == (
        everything
    )


def test_sample_of_texts(tmp_path):
    path = tmp_path / "docs.txt"
    path.write_text("ünï\ntwo\nthree\n", encoding="utf-8")
    sample = stream_text_file(path).sample(10, seed=0)
    assert sample.x.dtype == object and sample.y is None
    assert sorted(sample.x) == ["three", "two", "ünï"]
