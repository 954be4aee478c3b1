"""Data: the embedded Fashion-MNIST and WordNet defaults, and user data.

Two kinds of source. In memory: the loaders (`load`, `load_image_folder`,
`load_text_file`, `load_csv`, `from_arrays`) return a `LabeledData` (NumPy
arrays plus label names). Streamed: `stream`, `stream_shards`,
`stream_image_folder`, `stream_text_file`, `stream_csv`, `stream_tfds` and
`from_dataset` return a `StreamedData`, whose `tf.data` pipeline reads,
decodes and shuffles from disk with flat memory. `write_shards` (the
`keras-ssl convert` command) writes TFRecord shards with a checksummed
index; `load_or_stream` picks one kind for a workflow. `text_batches`
turns texts into batches of token ids, tokenized in the `tf.data`
pipeline; `load_general_text` gathers the general English text of the base
model.
"""

from keras_ssl.datasets.fashion_mnist import load_fashion_mnist
from keras_ssl.datasets.general_images import load_general_images
from keras_ssl.datasets.general_text import load_general_text
from keras_ssl.datasets.labeled_data import LabeledData
from keras_ssl.datasets.registry import load, load_or_stream, stream
from keras_ssl.datasets.sentence_pairs import (
    SentencePairs,
    make_sentence_pairs,
    split_sentences,
)
from keras_ssl.datasets.streamed_data import StreamedData
from keras_ssl.datasets.streaming_sources import (
    from_dataset,
    stream_csv,
    stream_image_folder,
    stream_text_file,
    stream_tfds,
)
from keras_ssl.datasets.text_batches import text_batches
from keras_ssl.datasets.tfrecord_shards import read_index, stream_shards, write_shards
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
    "StreamedData",
    "from_dataset",
    "load_or_stream",
    "read_index",
    "stream",
    "stream_csv",
    "stream_image_folder",
    "stream_shards",
    "stream_text_file",
    "stream_tfds",
    "text_batches",
    "write_shards",
    "from_arrays",
    "load",
    "load_csv",
    "load_fashion_mnist",
    "load_general_images",
    "load_general_text",
    "load_image_folder",
    "load_text_file",
    "load_tfds",
    "load_wordnet",
    "make_sentence_pairs",
    "split_sentences",
    "wordnet_synonyms",
]
