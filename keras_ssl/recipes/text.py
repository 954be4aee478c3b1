"""Shared logic of the text methods: vocabulary, Transformer, token ids."""

import logging

import numpy as np
import tensorflow as tf

from keras_ssl.datasets import StreamedData
from keras_ssl.encoders import transformer_encoder
from keras_ssl.recipes.encoder_source import OWN_TEXT_ENCODER, text_encoder
from keras_ssl.recipes.recipe import Pretext, Recipe
from keras_ssl.tokenizers import (
    TextPreprocessor,
    check_texts,
    count_truncated,
    train_word_piece_vocabulary,
)

logger = logging.getLogger("keras_ssl")


def tokenize(preprocessor, texts, second_texts=None, batch_size=1024):
    """Token ids, computed once with a parallel `tf.data` map.

    With `second_texts`, packs sentence pairs (`TextPreprocessor.pack_pair`).
    """
    texts = np.asarray(texts, dtype=object).astype(str)
    if second_texts is None:
        ds = tf.data.Dataset.from_tensor_slices(texts).batch(batch_size)
        ds = ds.map(preprocessor, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        second_texts = np.asarray(second_texts, dtype=object).astype(str)
        ds = tf.data.Dataset.from_tensor_slices((texts, second_texts))
        ds = ds.batch(batch_size).map(
            preprocessor.pack_pair, num_parallel_calls=tf.data.AUTOTUNE
        )
    return np.concatenate([batch.numpy() for batch in ds], axis=0)


class TextRecipe(Recipe):
    """A text method: raw texts in; a WordPiece vocabulary trained on them
    (model settings `vocabulary_size`, `sequence_length`), a Transformer
    (`hidden_dim`, `num_layers`, `num_heads`, `intermediate_dim`, `dropout`)
    and the model out, trained on the texts' token ids.

    Hooks: `make_encoder` (`encoder_builder`), `training_texts` (what is
    tokenized, e.g. sentence pairs), `make_model` and `examples`.
    """

    modality = "text"
    batch_size = 128
    learning_rate = 3e-3
    default_dataset = "wordnet"
    panel = "masked_tokens"
    #: Builds the Transformer (`keras_ssl.encoders.transformer_encoder`
    #: reads the whole sentence).
    encoder_builder = staticmethod(transformer_encoder)
    #: Whether the model takes the run's `seed` (masking, dropout of views).
    seeded = True
    #: Texts of a streamed source the vocabulary is learned from.
    vocabulary_sample = 200_000

    def check_texts(self, data, dataset):
        """The non-empty texts of `data` (empty ones dropped, with a warning);
        for a stream, a seeded sample of `vocabulary_sample` of them."""
        if isinstance(data, StreamedData):
            self.check_streamable(data, dataset)
            if data.modality != "text":
                raise ValueError(
                    f"{self.name} needs text. Received: dataset={dataset!r}, "
                    f"a stream of {data.modality}"
                )
            return data.sample(self.vocabulary_sample, seed=0).x
        if data.x.dtype != object:
            raise ValueError(
                f"{self.name} needs text. Received: dataset={dataset!r} with "
                f"x.dtype={data.x.dtype}"
            )
        texts, dropped = check_texts(data.x, "texts", empty="drop")
        if dropped:
            logger.warning("Dropped %d empty texts of %d.", dropped, len(data.x))
        return texts

    def make_encoder(self, vocabulary_size, sequence_length, kw):
        """The Transformer; pops its settings from `kw`."""
        hidden = kw.pop("hidden_dim", 64)
        return self.encoder_builder(
            vocabulary_size,
            sequence_length,
            hidden_dim=hidden,
            num_layers=kw.pop("num_layers", 2),
            num_heads=kw.pop("num_heads", 2),
            intermediate_dim=kw.pop("intermediate_dim", 2 * hidden),
            dropout=kw.pop("dropout", 0.1),
        )

    def training_texts(self, texts, seed):
        """What the model trains on (before tokenizing): the texts."""
        return texts

    def make_model(self, encoder, preprocessor, kw):
        return self.model_class(encoder, preprocessor, **kw)

    def examples(self, preprocessor, texts):
        """`(examples, num_examples, truncated, extra, what)` of `texts`."""
        ids = tokenize(preprocessor, texts)
        return ids, len(ids), count_truncated(preprocessor, texts), {}, "texts"

    def vocabulary(self, context, texts):
        """The resumed run's vocabulary, or one learned from `texts` (pops
        `vocabulary_size` from the model settings)."""
        size = context.model_kwargs.pop("vocabulary_size", 4000)
        if context.vocabulary is not None:
            return context.vocabulary
        return train_word_piece_vocabulary(texts, size)

    def encoder(self, context, texts):
        """`(encoder, preprocessor, vocabulary)`: the encoder
        `context.encoder` names (see `keras_ssl.recipes.encoder_source`) or
        keras_ssl's Transformer; `vocabulary` is `None` when it comes with
        the encoder (a preset or a saved model)."""
        kw = context.model_kwargs
        if context.encoder in (None, OWN_TEXT_ENCODER):
            length = kw.pop("sequence_length", 32)
            vocab = self.vocabulary(context, texts)
            preprocessor = TextPreprocessor(vocab, length)
            return self.make_encoder(len(vocab), length, kw), preprocessor, vocab
        own = ("hidden_dim", "num_layers", "num_heads", "intermediate_dim", "dropout")
        self.check_encoder(context, own)
        learned = []

        def vocabulary_of():
            learned.append(self.vocabulary(context, texts))
            return learned[-1]

        length = kw.pop("sequence_length", None)
        encoder, preprocessor = text_encoder(
            context.encoder, self.name, vocabulary_of, length
        )
        if "vocabulary_size" in kw:
            raise ValueError(
                f"The encoder {context.encoder!r} comes with its vocabulary. "
                f"Received: vocabulary_size={kw['vocabulary_size']}. Remove it "
                "from `model_kwargs`."
            )
        return encoder, preprocessor, (learned[-1] if learned else None)

    def build(self, data, context):
        texts = self.check_texts(data, context.dataset)
        kw = context.model_kwargs
        encoder, preprocessor, vocab = self.encoder(context, texts)
        length = preprocessor.sequence_length
        if self.seeded:
            kw.setdefault("seed", context.seed)
        model = self.make_model(encoder, preprocessor, kw)
        if isinstance(data, StreamedData):
            truncated = count_truncated(preprocessor, texts)
            extra = {
                "vocabulary_size": preprocessor.vocabulary_size,
                "truncated_in_sample": truncated,
            }
            return Pretext(
                model,
                None,
                data.num_examples,
                extra,
                vocabulary=vocab,
                stream=data,
                prepare=preprocessor,
                num_workers=context.num_workers,
            )
        texts = self.training_texts(texts, context.seed)
        train, num, truncated, extra, what = self.examples(preprocessor, texts)
        if truncated:
            logger.warning(
                "%d of %d %s were truncated to %d tokens.",
                *(truncated, num, what, length),
            )
        extra = {
            "vocabulary_size": preprocessor.vocabulary_size,
            **extra,
            "truncated_texts": truncated,
        }
        examples = tf.data.Dataset.from_tensor_slices(train)
        return Pretext(model, examples, num, extra, source=texts, vocabulary=vocab)
