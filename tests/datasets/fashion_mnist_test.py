import gzip
import os

import keras
import numpy as np
import pytest

from keras_ssl.datasets import fashion_mnist, load_fashion_mnist

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
requires_debian_data = pytest.mark.skipif(
    not os.path.isfile(os.path.join(DEBIAN_DIR, "t10k-labels-idx1-ubyte.gz")),
    reason="needs `apt-get install dataset-fashion-mnist`",
)


def write_idx(path, array, compress=False):
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim])
    header += b"".join(d.to_bytes(4, "big") for d in array.shape)
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def write_split(directory, prefix="t10k", n=6, compress=False):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    y = np.arange(n) % 10
    suffix = ".gz" if compress else ""
    write_idx(directory / f"{prefix}-images-idx3-ubyte{suffix}", x, compress)
    write_idx(directory / f"{prefix}-labels-idx1-ubyte{suffix}", y, compress)
    return x, y


@pytest.fixture
def no_default_dirs(monkeypatch, tmp_path):
    """Hides the real data: no env var, no default dirs, no download."""
    monkeypatch.delenv(fashion_mnist.ENV_VAR, raising=False)
    monkeypatch.delenv("KERAS_SSL_ALLOW_DOWNLOAD", raising=False)
    monkeypatch.setattr(fashion_mnist, "DEFAULT_DIRS", (str(tmp_path / "nothing"),))

    def fail_download():
        raise OSError("no network in tests")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", fail_download)


@requires_debian_data
@pytest.mark.parametrize("split, n", [("train", 60000), ("test", 10000)])
def test_real_data(split, n):
    data = load_fashion_mnist(split)
    assert data.x.shape == (n, 28, 28, 1)
    assert data.x.dtype == np.uint8 and data.y.dtype == np.int64
    assert data.y.min() == 0 and data.y.max() == 9
    np.testing.assert_array_equal(np.bincount(data.y), [n // 10] * 10)
    assert data.label_names[0] == "T-shirt/top" and len(data.label_names) == 10
    assert data.name == f"fashion_mnist/{split}"
    assert 0 < data.x.mean() < 255


@pytest.mark.parametrize("compress", [False, True])
def test_reads_synthetic_idx_from_data_dir(tmp_path, compress):
    x, y = write_split(tmp_path, compress=compress)
    data = load_fashion_mnist("test", data_dir=tmp_path)
    np.testing.assert_array_equal(data.x[..., 0], x)
    np.testing.assert_array_equal(data.y, y)
    data.x[0] = 0  # Arrays are writable copies.


def test_env_var_and_default_dirs_are_searched(tmp_path, monkeypatch, no_default_dirs):
    env_dir, default_dir = tmp_path / "env", tmp_path / "default"
    env_dir.mkdir()
    default_dir.mkdir()
    write_split(env_dir, n=3)
    write_split(default_dir, n=5)
    monkeypatch.setattr(fashion_mnist, "DEFAULT_DIRS", (str(default_dir),))
    assert len(load_fashion_mnist("test")) == 5
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(env_dir))
    assert len(load_fashion_mnist("test")) == 3
    # An explicit data_dir without the files falls through to the next place.
    assert len(load_fashion_mnist("test", data_dir=tmp_path / "empty")) == 3


def test_missing_data_lists_searched_places(tmp_path, no_default_dirs):
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist("train", data_dir=tmp_path)
    message = str(info.value)
    assert f"data_dir={str(tmp_path)!r}" in message
    assert "$KERAS_SSL_FASHION_MNIST_DIR (not set)" in message
    assert str(tmp_path / "nothing") in message
    assert "no download: not asked for (pass `download=True`" in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_failed_download_is_listed(tmp_path, no_default_dirs):
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist("train", data_dir=tmp_path, download=True)
    assert "keras.datasets.fashion_mnist.load_data() (download failed)" in str(
        info.value
    )


def test_keras_download_fallback(tmp_path, monkeypatch, no_default_dirs):
    train = (np.ones((4, 28, 28), np.uint8), np.array([0, 1, 2, 3]))
    test = (np.zeros((2, 28, 28), np.uint8), np.array([4, 5]))
    calls = []

    def load_data():
        calls.append(1)
        return train, test

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", load_data)
    # Nothing is downloaded unless asked.
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_fashion_mnist("test")
    assert calls == []
    data = load_fashion_mnist("test", download=True)
    assert data.x.shape == (2, 28, 28, 1)
    np.testing.assert_array_equal(data.y, [4, 5])
    # Asking through the environment (e.g. from the command line).
    monkeypatch.setenv("KERAS_SSL_ALLOW_DOWNLOAD", "1")
    assert len(load_fashion_mnist("test")) == 2
    assert calls == [1, 1]


@pytest.mark.parametrize("download", ["yes", 1])
def test_invalid_download_argument(download):
    with pytest.raises(ValueError, match=r"`download` must be True, False or None"):
        load_fashion_mnist("test", download=download)


def test_invalid_split():
    with pytest.raises(ValueError, match=r"Received: split='valid'.*'train', 'test'"):
        load_fashion_mnist("valid")


def test_wrong_magic_number(tmp_path):
    write_split(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros((6, 2)))
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte.*magic number"):
        load_fashion_mnist("test", data_dir=tmp_path)


def test_truncated_file(tmp_path):
    write_split(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match=r"truncated IDX file .*t10k-images-idx3"):
        load_fashion_mnist("test", data_dir=tmp_path)


def test_truncated_gzip(tmp_path):
    write_split(tmp_path, compress=True)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"truncated gzip file .*t10k-images"):
        load_fashion_mnist("test", data_dir=tmp_path)


def test_images_and_labels_disagree(tmp_path):
    write_split(tmp_path, n=6)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(5))
    with pytest.raises(ValueError, match="6 images but 5 labels"):
        load_fashion_mnist("test", data_dir=tmp_path)
