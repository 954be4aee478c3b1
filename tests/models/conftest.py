"""Tiny real-data fixtures for the model tests (Fashion-MNIST, WordNet)."""

import os

import pytest
import tensorflow as tf

from keras_ssl.datasets import load
from keras_ssl.tokenizers import TextPreprocessor, train_word_piece_vocabulary

SEQUENCE_LENGTH = 16


def _debian_file(path):
    return pytest.mark.skipif(
        not os.path.exists(path), reason=f"needs {path} (see scripts/install_data.sh)"
    )


requires_fashion_mnist = _debian_file(
    "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
)
requires_wordnet = _debian_file("/usr/share/wordnet/data.noun")


@pytest.fixture(scope="session")
def fashion_images():
    """64 real Fashion-MNIST test images, uint8 `(64, 28, 28, 1)`."""
    try:
        data = load("fashion_mnist", split="test")
    except Exception as e:  # no local copy and no network
        pytest.skip(f"Fashion-MNIST is not available: {e}")
    return data.subset(64, seed=0)


@pytest.fixture(scope="session")
def wordnet_texts():
    """64 real WordNet glosses, a 1-D object array of `str`."""
    try:
        data = load("wordnet")
    except Exception as e:
        pytest.skip(f"WordNet is not available: {e}")
    return data.subset(64, seed=0).x


@pytest.fixture(scope="session")
def text_preprocessor(wordnet_texts):
    vocab = train_word_piece_vocabulary(wordnet_texts, 150)
    return TextPreprocessor(vocab, sequence_length=SEQUENCE_LENGTH)


@pytest.fixture(scope="session")
def wordnet_ids(wordnet_texts, text_preprocessor):
    """The 64 glosses as `(64, 16)` int32 token ids (NumPy)."""
    return text_preprocessor(tf.constant(wordnet_texts.astype(str))).numpy()
