import numpy as np
import pytest

from keras_ssl.datasets import LabeledData


def make_images(n=20, num_classes=4):
    x = np.zeros((n, 2, 2, 1), dtype=np.uint8)
    x[:, 0, 0, 0] = np.arange(n)  # A unique id per example.
    y = np.arange(n, dtype=np.int64) % num_classes
    names = [f"c{i}" for i in range(num_classes)]
    return LabeledData(x=x, y=y, label_names=names, name="toy")


def test_len_and_repr():
    data = make_images()
    assert len(data) == 20
    assert "toy" in repr(data) and "4 classes" in repr(data)


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match=r"len\(x\)=3, len\(y\)=2"):
        LabeledData(x=np.zeros((3, 2, 2, 1), np.uint8), y=np.zeros(2, np.int64))


def test_subset_is_deterministic_and_without_repeats():
    data = make_images()
    a, b = data.subset(7, seed=1), data.subset(7, seed=1)
    np.testing.assert_array_equal(a.x, b.x)
    assert len(a) == 7
    assert len(np.unique(a.x[:, 0, 0, 0])) == 7
    assert a.label_names == data.label_names
    assert not np.array_equal(a.x, data.subset(7, seed=2).x)


@pytest.mark.parametrize("n", [0, 21, -1])
def test_subset_rejects_bad_n(n):
    with pytest.raises(ValueError, match=rf"Received: n={n}"):
        make_images().subset(n)


def test_subset_rejects_non_integer_n():
    with pytest.raises(ValueError, match=r"`n` must be an integer. Received: n=2.5"):
        make_images().subset(2.5)


def test_split_is_stratified_disjoint_and_deterministic():
    data = make_images(n=100, num_classes=4)
    train, test = data.split(test_fraction=0.2, seed=3)
    assert len(train) == 80 and len(test) == 20
    np.testing.assert_array_equal(np.bincount(test.y), [5, 5, 5, 5])
    pixels = lambda d: set(d.x[:, 0, 0, 0].tolist())
    assert not pixels(train) & pixels(test)
    assert pixels(train) | pixels(test) == pixels(data)
    again_train, again_test = data.split(test_fraction=0.2, seed=3)
    np.testing.assert_array_equal(test.x, again_test.x)
    np.testing.assert_array_equal(train.y, again_train.y)


def test_split_apportions_rounding_to_exact_total():
    y = np.array([0] * 7 + [1] * 3, dtype=np.int64)
    data = LabeledData(x=np.zeros((10, 1, 1, 1), np.uint8), y=y)
    _, test = data.split(test_fraction=0.3)
    assert len(test) == 3
    np.testing.assert_array_equal(np.bincount(test.y, minlength=2), [2, 1])


def test_split_without_labels_or_stratify():
    texts = np.array([f"doc {i}" for i in range(10)], dtype=object)
    train, test = LabeledData(x=texts).split(test_fraction=0.5, seed=0)
    assert len(train) == len(test) == 5
    assert train.y is None
    assert set(train.x) | set(test.x) == set(texts)
    _, test = make_images().split(stratify=False)
    assert len(test) == 4


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1])
def test_split_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match=rf"Received: test_fraction={fraction}"):
        make_images().split(test_fraction=fraction)


def test_split_needs_two_examples():
    with pytest.raises(ValueError, match="at least 2 examples"):
        make_images().subset(1).split()


def test_to_tf_dataset_images_with_labels():
    data = make_images(n=10)
    ds = data.to_tf_dataset(batch_size=4)
    batches = list(ds)
    assert [len(x) for x, _ in batches] == [4, 4, 2]
    x, y = batches[0]
    assert x.dtype.name == "uint8" and y.dtype.name == "int64"
    np.testing.assert_array_equal(x.numpy(), data.x[:4])
    assert [len(x) for x, _ in data.to_tf_dataset(4, drop_remainder=True)] == [4, 4]


def test_to_tf_dataset_shuffles_texts_reproducibly():
    texts = np.array([f"doc {i}" for i in range(16)], dtype=object)
    data = LabeledData(x=texts)
    first = [b.numpy().tolist() for b in data.to_tf_dataset(16, shuffle=True, seed=1)]
    second = [b.numpy().tolist() for b in data.to_tf_dataset(16, shuffle=True, seed=1)]
    assert first == second
    assert sorted(first[0]) == sorted(t.encode() for t in texts)
    assert first[0] != [t.encode() for t in texts]


@pytest.mark.parametrize("batch_size", [0, -2, 1.5, None])
def test_to_tf_dataset_rejects_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match=r"Received: batch_size="):
        make_images().to_tf_dataset(batch_size)
