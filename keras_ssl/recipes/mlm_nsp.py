"""BERT: masked language modelling plus next-sentence prediction."""

from keras_ssl.datasets import make_sentence_pairs
from keras_ssl.models import MaskedLanguageModel
from keras_ssl.recipes.registry import register
from keras_ssl.recipes.text import TextRecipe, tokenize
from keras_ssl.tokenizers import count_truncated


class MLMNSPRecipe(TextRecipe):
    name = "mlm_nsp"
    streamable = False  # uses the whole dataset at once
    model_class = MaskedLanguageModel
    summary = "MLM on sentence pairs of each text, half of them true next sentences"

    def training_texts(self, texts, seed):
        # BERT: MLM on sentence pairs, half of them true next sentences.
        return make_sentence_pairs(texts, seed=seed)

    def make_model(self, encoder, preprocessor, kw):
        return self.model_class(
            encoder, preprocessor, next_sentence_prediction=True, **kw
        )

    def examples(self, preprocessor, pairs):
        ids = tokenize(preprocessor, pairs.first, pairs.second)
        truncated = count_truncated(preprocessor, pairs.first, pairs.second)
        train = {"token_ids": ids, "next_sentence_label": pairs.is_next}
        extra = {
            "sentence_pairs": len(ids),
            "documents_without_pairs": pairs.num_skipped,
        }
        return train, len(ids), truncated, extra, "sentence pairs"


RECIPE = register(MLMNSPRecipe())
