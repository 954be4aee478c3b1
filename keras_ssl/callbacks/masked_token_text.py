"""Masked-token predictions of an MLM, written to TensorBoard as text."""

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.callbacks import _monitoring as m
from keras_ssl.checks import check_seed
from keras_ssl.models.masked_language_model import MaskedLanguageModel
from keras_ssl.models.replaced_token_detection import ReplacedTokenDetection


def _code(token):
    return f"`{token}`" if "`" not in token else token


class MaskedTokenText(m.EpochSummaryCallback):
    """Writes a table of masked texts, the model's guesses and the truth.

    At setup, each text is tokenized with the model's preprocessor and a
    fixed random `mask_rate` (the model's) of its non-special tokens is
    chosen from `seed` (at least one, at most the model's
    `max_predictions`). Every `every` epochs all chosen tokens are replaced
    by `[MASK]` (a fill-in-the-blank query, without BERT's random/unchanged
    10%), the model predicts them (top-1 of its MLM head) and a markdown
    table goes to the text summary `tag`: the input with `[MASK]`, the
    predicted tokens and the true tokens, in order, and the number right.
    The same masks every epoch show the model improving on the same blanks.

    For `MaskedLanguageModel` (with or without next-sentence prediction)
    and `ReplacedTokenDetection` (its generator is the MLM). The model's
    own random state is not touched.

    Args:
        texts: raw strings.
        log_dir: folder of the TensorBoard run to write to.
        max_texts: how many of `texts` to show (table rows).
        every: write every `every` epochs.
        seed: seed of the masked positions.
        tag: name of the text summary.

    Example:

    >>> model.fit(token_ids, epochs=3, callbacks=[  # doctest: +SKIP
    ...     MaskedTokenText(texts[:8], "logs/monitor")])
    """

    def __init__(
        self, texts, log_dir, max_texts=8, every=1, seed=0, tag="masked_tokens"
    ):
        super().__init__(log_dir, every)
        max_texts = m.check_positive_int("max_texts", max_texts)
        self.texts = m.text_list(texts)[:max_texts]
        self.seed = check_seed(seed)
        self.tag = str(tag)
        self._query = None

    def set_model(self, model):
        if not isinstance(model, MaskedLanguageModel | ReplacedTokenDetection):
            raise ValueError(
                "MaskedTokenText needs a masked language model "
                "(MaskedLanguageModel or ReplacedTokenDetection). "
                f"Received: model of type {type(model).__name__}"
            )
        super().set_model(model)
        self._query = self._make_query(model)

    def _make_query(self, model):
        pre = model.preprocessor
        ids = pre(tf.constant(self.texts)).numpy().astype("int32")
        slots = model.masker.max_predictions
        positions = np.zeros((len(ids), slots), "int32")
        counts = np.zeros(len(ids), "int32")
        special = np.isin(ids, pre.special_ids)
        rng = np.random.default_rng(self.seed)
        for row in range(len(ids)):
            candidates = np.flatnonzero(~special[row])
            if not len(candidates):
                continue
            count = int(np.clip(round(model.mask_rate * len(candidates)), 1, slots))
            chosen = np.sort(rng.choice(candidates, count, replace=False))
            positions[row, :count] = chosen
            counts[row] = count
        masked = ids.copy()
        for row, count in enumerate(counts):
            masked[row, positions[row, :count]] = pre.mask_id
        return {"ids": ids, "masked": masked, "positions": positions, "counts": counts}

    def predict(self):
        """Top-1 token ids at the query's masked slots, `(n, max_predictions)`."""
        model, query = self.model, self._query
        network = (
            model.generator
            if isinstance(model, ReplacedTokenDetection)
            else model.encoder
        )
        sequence = network(query["masked"], training=False)["sequence_output"]
        logits = model.mlm_head(
            sequence,
            mask_positions=query["positions"],
            embedding_matrix=model._embedding_matrix(),
        )
        return np.asarray(keras.ops.convert_to_numpy(keras.ops.argmax(logits, -1)))

    def _render(self, row, original):
        """Word pieces joined into words; `##` pieces (masked too) attach."""
        pre = self.model.preprocessor
        skip = {pre.pad_id, pre.cls_id, pre.sep_id}
        words = []
        for token_id, true_id in zip(row, original):
            if token_id in skip:
                continue
            token = pre.vocabulary[token_id]
            if token_id == pre.mask_id and true_id != pre.mask_id:
                token = (
                    "##[MASK]" if pre.vocabulary[true_id].startswith("##") else token
                )
            if token.startswith("##") and words:
                words[-1] += token[2:]
            else:
                words.append(token)
        return " ".join(words)

    def table(self):
        """`(markdown, num_correct, num_masked)` for the model as it is now."""
        query, vocab = self._query, self.model.preprocessor.vocabulary
        predictions = self.predict()
        rows, correct, total = [], 0, 0
        for i, count in enumerate(query["counts"]):
            truth = query["ids"][i, query["positions"][i, :count]]
            guess = predictions[i, :count]
            hits = int(np.sum(truth == guess))
            correct, total = correct + hits, total + int(count)
            rows.append(
                [
                    self._render(query["masked"][i], query["ids"][i]),
                    ", ".join(_code(vocab[t]) for t in guess) or "-",
                    ", ".join(_code(vocab[t]) for t in truth) or "-",
                    f"{hits}/{count}",
                ]
            )
        header = ["input (with [MASK])", "predicted", "truth", "right"]
        summary = (
            f"Top-1 on these {total} masked tokens: {correct}/{total} "
            f"({correct / max(total, 1):.0%}).\n\n"
        )
        return summary + m.markdown_table(header, rows), correct, total

    def write_summaries(self, epoch):
        markdown, _, _ = self.table()
        tf.summary.text(self.tag, markdown, step=epoch)
