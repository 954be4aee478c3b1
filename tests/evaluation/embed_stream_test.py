"""Embedding, probing and fine-tuning streamed data (TFRecord shards, tf.data)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.datasets import (
    from_arrays,
    load,
    load_image_folder,
    stream,
    stream_image_folder,
    write_shards,
)
from keras_ssl.encoders import conv_encoder
from keras_ssl.evaluation import embed, fine_tune, knn_evaluate, linear_probe
from keras_ssl.evaluation.embed import (
    embed_labelled,
    split_stream,
    stream_labels,
    subset_stream,
)


@pytest.fixture(scope="module")
def images():
    return load("fashion_mnist").subset(60, seed=0)


@pytest.fixture(scope="module")
def shards(images, tmp_path_factory):
    path = tmp_path_factory.mktemp("embed_stream") / "shards"
    write_shards(images, path, shard_size=16, verbose=0)  # 4 shards
    return str(path)


@pytest.fixture(scope="module")
def encoder():
    keras.utils.set_random_seed(0)
    return conv_encoder((28, 28, 1), widths=(8, 16))


def _scaled(x):
    return x.astype("float32") / 255.0


def _digests(x):
    return sorted(image.tobytes() for image in x)


def test_embed_of_a_stream_equals_embed_of_the_arrays(images, shards, encoder):
    expected = embed(encoder, _scaled(images.x))
    # A StreamedData: batched here, images scaled to [0, 1] in the pipeline.
    np.testing.assert_allclose(
        embed(encoder, stream(shards), batch_size=7), expected, rtol=1e-5, atol=1e-5
    )
    # A batched tf.data.Dataset of x, and of (x, y): used as it is.
    ds = tf.data.Dataset.from_tensor_slices(_scaled(images.x)).batch(9)
    np.testing.assert_allclose(embed(encoder, ds), expected, rtol=1e-5, atol=1e-5)
    pairs = tf.data.Dataset.from_tensor_slices((images.x, images.y)).batch(9)
    features = embed(encoder, pairs, preprocess=lambda x: tf.cast(x, "float32") / 255)
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-5)


def test_embed_labelled_keeps_the_labels_in_file_order(images, shards, encoder):
    twin = keras.models.clone_model(encoder)
    features, labels = embed_labelled(
        {"a": encoder, "b": twin}, stream(shards), batch_size=8
    )
    np.testing.assert_array_equal(labels, images.y)
    assert labels.dtype == np.int64
    np.testing.assert_allclose(
        features["a"], embed(encoder, _scaled(images.x)), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        features["b"], embed(twin, _scaled(images.x)), rtol=1e-5, atol=1e-5
    )
    assert not np.allclose(features["a"], features["b"])


def test_embedding_a_stream_never_gathers_the_images(shards, encoder, monkeypatch):
    gathered = []
    concatenate = np.concatenate

    def recording(arrays, *args, **kwargs):
        arrays = [np.asarray(a) for a in arrays]
        gathered.extend((a.dtype.name, a.shape[1:]) for a in arrays)
        return concatenate(arrays, *args, **kwargs)

    monkeypatch.setattr(np, "concatenate", recording)
    features, labels = embed_labelled(encoder, stream(shards), batch_size=8)
    assert features.shape == (60, 16) and labels.shape == (60,)
    # Only batches of embeddings and of labels were put together.
    assert gathered and set(gathered) == {("float32", (16,)), ("int64", ())}


def test_unlabelled_streams_are_refused_clearly(images, encoder, tmp_path):
    write_shards(from_arrays(images.x[:10]), tmp_path / "unlabelled", verbose=0)
    with pytest.raises(ValueError, match=r"needs labelled data.*'unlabelled'"):
        embed_labelled(encoder, stream(str(tmp_path / "unlabelled")))
    x_only = tf.data.Dataset.from_tensor_slices(_scaled(images.x[:10])).batch(4)
    with pytest.raises(ValueError, match=r"needs labelled data.*tf\.data"):
        linear_probe(encoder, x_only, None, x_only, None)


def test_stream_errors_name_the_argument(images, shards, encoder):
    with pytest.raises(ValueError, match=r"labels of a stream come with.*y_train"):
        linear_probe(encoder, stream(shards), images.y, stream(shards), None)
    unbatched = tf.data.Dataset.from_tensor_slices(_scaled(images.x))
    with pytest.raises(ValueError, match=r"Batch the dataset first"):
        embed(encoder, unbatched)
    with pytest.raises(ValueError, match=r"`preprocess` applies to streams"):
        embed(encoder, _scaled(images.x), preprocess=tf.identity)


def test_split_and_subset_of_shards(images, shards):
    data = stream(shards)
    train, test = split_stream(data, test_fraction=0.25, seed=0)
    assert (train.num_examples, test.num_examples) == (45, 15)
    x_train, x_test = train.sample(100).x, test.sample(100).x
    assert (len(x_train), len(x_test)) == (45, 15)
    # Disjoint, and together every example once.
    assert _digests(np.concatenate([x_train, x_test])) == _digests(images.x)
    # The same seed, the same parts; another seed, another test part.
    again = split_stream(data, test_fraction=0.25, seed=0)[1]
    assert _digests(again.sample(100).x) == _digests(x_test)
    other = split_stream(data, test_fraction=0.25, seed=1)[1]
    assert _digests(other.sample(100).x) != _digests(x_test)
    sub = subset_stream(data, 20, seed=3)
    assert sub.num_examples == 20 and len(stream_labels(sub)) == 20
    assert subset_stream(data, 100) is data


def test_split_of_an_image_folder_is_the_in_memory_split(images, tmp_path):
    for i, (image, label) in enumerate(zip(images.x[:30], images.y[:30])):
        folder = tmp_path / "folder" / f"class_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:02d}.png").write_bytes(tf.io.encode_png(image).numpy())
    path = str(tmp_path / "folder")
    loaded = load_image_folder(path, color_mode="grayscale")
    want_train, want_test = loaded.split(test_fraction=0.3, seed=4)
    train, test = split_stream(stream_image_folder(path), test_fraction=0.3, seed=4)
    # File names and labels are in memory: the stratified split, exactly.
    assert (train.num_examples, test.num_examples) == (21, 9)
    np.testing.assert_array_equal(stream_labels(test), want_test.y)
    np.testing.assert_array_equal(stream_labels(train), want_train.y)
    streamed = np.concatenate([x for x, _ in test.batches(4)])
    np.testing.assert_array_equal(streamed, want_test.x)


def test_split_of_a_tf_data_dataset_and_unknown_lengths(images):
    ds = tf.data.Dataset.from_tensor_slices((images.x, images.y))
    train, test = split_stream(ds, test_fraction=0.5, seed=0)
    assert train.num_examples + test.num_examples == 60
    assert len(stream_labels(test)) == test.num_examples == 30
    unknown = ds.filter(lambda x, y: True)
    with pytest.raises(ValueError, match=r"number of examples is unknown"):
        split_stream(unknown)


def test_probe_and_knn_on_streams_equal_the_arrays(images, shards, encoder):
    data = stream(shards)
    train, test = split_stream(data, test_fraction=0.25, seed=0)
    f_train, y_train = embed_labelled(encoder, train)
    f_test, y_test = embed_labelled(encoder, test)
    expected = linear_probe(
        None, None, y_train, None, y_test, features=(f_train, f_test)
    )
    streamed = linear_probe(encoder, train, None, test, None)
    assert streamed == expected and streamed["num_train"] == 45
    expected = knn_evaluate(
        None, None, y_train, None, y_test, k=(3, 5), features=(f_train, f_test)
    )
    assert knn_evaluate(encoder, train, None, test, None, k=(3, 5)) == expected


def test_fine_tune_on_a_stream(shards, encoder):
    data = stream(shards)
    train, test = split_stream(data, test_fraction=0.25, seed=0)
    steps = []

    class CountSteps(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            steps.append(0)

        def on_train_batch_end(self, batch, logs=None):
            steps[-1] += 1

    result = fine_tune(
        encoder,
        train,
        None,
        test,
        None,
        epochs=2,
        batch_size=8,
        validation_split=0.2,
        callbacks=[CountSteps()],
        verbose=0,
    )
    # 45 training examples: 9 held out for validation, 36 fit (4 batches).
    assert (result["num_train"], result["num_val"], result["num_test"]) == (36, 9, 15)
    assert steps == [4, 4]
    assert 0.0 <= result["accuracy"] <= 1.0 and 0.0 <= result["val_accuracy"] <= 1.0
    # The classifier has a head for every class name of the shards.
    assert result["model"].output_shape == (None, 10)


def test_fine_tune_on_a_tf_data_dataset_with_balanced_weights(images, encoder):
    ds = tf.data.Dataset.from_tensor_slices((images.x[:40], images.y[:40] % 2))
    result = fine_tune(
        encoder, ds, None, None, None, epochs=1, batch_size=8, class_weight="balanced"
    )
    assert result["num_train"] == 40 and result["accuracy"] is None
    counts = np.bincount(images.y[:40] % 2)
    assert result["class_weight"] == pytest.approx(
        {c: 40 / (2 * n) for c, n in enumerate(counts)}
    )


def test_fine_tune_text_stream_needs_a_preprocess(tmp_path):
    path = tmp_path / "texts.csv"
    path.write_text("text,label\n" + "".join(f"t{i},{i % 2}\n" for i in range(8)))
    texts = stream(str(path), text_column="text", label_column="label")
    encoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
    with pytest.raises(ValueError, match=r"text stream must be tokenized"):
        fine_tune(encoder, texts, None, None, None, batch_size=2)
