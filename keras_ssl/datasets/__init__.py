"""Data loaders: the embedded Fashion-MNIST and WordNet defaults, and user data.

Every loader returns a `LabeledData` (NumPy arrays plus label names) that
turns into a `tf.data.Dataset` with `to_tf_dataset`; `load_tfds` returns a
`tf.data.Dataset` directly. `load` dispatches on a name or a path.
"""

from keras_ssl.datasets.fashion_mnist import load_fashion_mnist
from keras_ssl.datasets.labeled_data import LabeledData
from keras_ssl.datasets.registry import load
from keras_ssl.datasets.sentence_pairs import (
    SentencePairs,
    make_sentence_pairs,
    split_sentences,
)
from keras_ssl.datasets.user_data import (
    from_arrays,
    load_csv,
    load_image_folder,
    load_text_file,
    load_tfds,
)
from keras_ssl.datasets.wordnet import LEXNAMES, load_wordnet
from keras_ssl.datasets.wordnet_synonyms import wordnet_synonyms

__all__ = [
    "LEXNAMES",
    "LabeledData",
    "SentencePairs",
    "from_arrays",
    "load",
    "load_csv",
    "load_fashion_mnist",
    "load_image_folder",
    "load_text_file",
    "load_tfds",
    "load_wordnet",
    "make_sentence_pairs",
    "split_sentences",
    "wordnet_synonyms",
]
