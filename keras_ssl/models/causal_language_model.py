"""GPT-style causal (next-token) language modelling, with generation."""

import numbers

import keras
import keras_hub
import numpy as np
import tensorflow as tf
from keras import ops

from keras_ssl.metrics.perplexity import Perplexity
from keras_ssl.models.text_inputs import (
    TextSSLModel,
    embedding_matrix_getter,
    tied_token_embedding,
)

SAMPLERS = ("greedy", "top_k", "top_p")


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class _NextTokenHead(keras.layers.Layer):
    """Scores every vocabulary token from a hidden state.

    `logits = sequence @ matrix.T + bias`, where `matrix` is the decoder's
    input token embedding matrix (passed at call time) when `tied`, or the
    head's own `(vocabulary_size, hidden_dim)` matrix otherwise. Built by
    `CausalLanguageModel.__init__` (not part of any config).
    """

    def __init__(self, vocabulary_size, hidden_dim, tied, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.hidden_dim = hidden_dim
        self.tied = tied
        self.output_matrix = None

    def build(self, sequence_shape=None):
        if not self.tied:
            self.output_matrix = self.add_weight(
                (self.vocabulary_size, self.hidden_dim),
                initializer="glorot_uniform",
                name="output_matrix",
            )
        self.output_bias = self.add_weight(
            (self.vocabulary_size,), initializer="zeros", name="output_bias"
        )
        self.built = True

    def call(self, sequence, embedding_matrix=None):
        matrix = self.output_matrix if embedding_matrix is None else embedding_matrix
        if matrix is None:
            raise ValueError(
                "This head was built with `tied=True`: pass the token "
                "embedding matrix as `embedding_matrix`."
            )
        logits = ops.matmul(sequence, ops.transpose(ops.cast(matrix, sequence.dtype)))
        return logits + ops.cast(self.output_bias, sequence.dtype)


@keras.saving.register_keras_serializable(package="keras_ssl")
class CausalLanguageModel(TextSSLModel):
    """GPT-style causal language modelling on a decoder-only Transformer.

    Every position `t` predicts token `t + 1` from tokens `0..t` (the decoder
    must be causal, see `transformer_decoder`). Inputs are token ids from
    `preprocessor`, packed as `[CLS] tokens [SEP] [PAD]...`, or raw strings,
    tokenized in the graph. `[CLS]` serves as the start token (never a
    target) and `[SEP]` as the end token: it *is* a target, so the model
    learns where a text stops. Padding targets are ignored. The loss is the
    mean token cross-entropy over the global batch (`loss_sum` over
    `count` = number of target tokens, see `SSLModel`).

    The output layer is tied to the decoder's input token embeddings (GPT's
    choice) plus a per-token bias; `tie_embeddings=False` gives the head its
    own output matrix. `model.logits(x)` returns the next-token logits at
    every position, `model(x)` the decoder's mean-pooled `pooled_output` (for
    probes, export and fine-tuning), and `generate` continues prompts. The
    preprocessor travels with the model, so `.keras` files take raw strings.

    Metrics: `loss`, `perplexity` (`exp` of the mean token negative
    log-likelihood over every target token seen since the last reset),
    `next_token_accuracy` (top-1 over the target tokens).

    Args:
        decoder: causal `keras.Model` from `(batch, sequence_length)` ids to a
            dict with `sequence_output` and `pooled_output` (see
            `transformer_decoder`).
        preprocessor: `TextPreprocessor` (vocabulary, sequence length).
        tie_embeddings: share the decoder's input token embeddings with the
            output layer. Needs a keras-hub `TokenAndPositionEmbedding` in
            the decoder.
        **kwargs: passed to `keras.Model`.

    Example:

    >>> from keras_ssl.encoders import transformer_decoder
    >>> from keras_ssl.tokenizers import TextPreprocessor
    >>> vocab = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]", "a", "small", "cat"]
    >>> pre = TextPreprocessor(vocab, sequence_length=32)
    >>> dec = transformer_decoder(pre.vocabulary_size, 32)
    >>> model = CausalLanguageModel(dec, pre)
    >>> model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    >>> model.fit(token_ids, batch_size=64)  # doctest: +SKIP
    >>> model.generate("a small", sampler="top_k", seed=0)  # doctest: +SKIP
    ['a small domesticated carnivorous mammal']

    Reference:
        [Radford et al., 2018](https://cdn.openai.com/research-covers/language-unsupervised/language_understanding_paper.pdf),
        [Radford et al., 2019](https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf),
        top-p sampling: [Holtzman et al., 2019](https://arxiv.org/abs/1904.09751)
    """

    _config_objects = ("decoder", "preprocessor")

    def __init__(self, decoder, preprocessor, tie_embeddings=True, **kwargs):
        super().__init__(
            decoder,
            preprocessor,
            encoder_name="decoder",
            encoder_builder="transformer_decoder",
            **kwargs,
        )
        if not isinstance(tie_embeddings, bool):
            raise ValueError(
                "Argument `tie_embeddings` must be a bool. "
                f"Received: tie_embeddings={tie_embeddings!r}"
            )
        length = decoder.input.shape[-1] if hasattr(decoder, "input") else None
        if length is not None and length != preprocessor.sequence_length:
            raise ValueError(
                "The decoder's input length must equal the preprocessor's "
                f"`sequence_length`. Received: decoder input length={length}, "
                f"sequence_length={preprocessor.sequence_length}"
            )
        self.tie_embeddings = tie_embeddings
        embedding = (
            tied_token_embedding(decoder, preprocessor.vocabulary_size, name="decoder")
            if tie_embeddings
            else None
        )
        self._embedding_matrix = embedding_matrix_getter(embedding)
        self.lm_head = _NextTokenHead(
            preprocessor.vocabulary_size,
            decoder.output["sequence_output"].shape[-1],
            tied=embedding is not None,
            name="lm_head",
        )
        self.lm_head.build()
        self.perplexity = Perplexity(name="perplexity")
        self.next_token_accuracy = keras.metrics.Mean(name="next_token_accuracy")
        self.build()

    @property
    def decoder(self):
        """The decoder (the same model as `encoder`)."""
        return self.encoder

    # Inputs and forward passes --------------------------------------------

    def logits(self, inputs, training=False):
        """Next-token logits at every position.

        Args:
            inputs: raw strings or `(batch, sequence_length)` token ids.
            training: dropout on or off.

        Returns:
            float32 `(batch, sequence_length, vocabulary_size)`; row `t`
            scores token `t + 1` and depends on tokens `0..t` only.
        """
        ids = self.token_ids(inputs)
        sequence = self.decoder(ids, training=training)["sequence_output"]
        logits = self.lm_head(sequence, embedding_matrix=self._embedding_matrix())
        return ops.cast(logits, "float32")

    # The objective ---------------------------------------------------------

    def compute_objective(self, inputs, training=False):
        ids = self.token_ids(inputs)
        sequence = self.decoder(ids, training=training)["sequence_output"]
        # Position t predicts token t + 1; the last position has no target.
        logits = self.lm_head(
            sequence[:, :-1], embedding_matrix=self._embedding_matrix()
        )
        logits = ops.cast(logits, "float32")
        targets = ids[:, 1:]
        weights = ops.cast(ops.not_equal(targets, self.preprocessor.pad_id), "float32")
        token_nll = ops.sparse_categorical_crossentropy(
            targets, logits, from_logits=True
        )
        loss_sum = ops.sum(token_nll * weights)
        correct = ops.cast(
            ops.equal(ops.cast(ops.argmax(logits, axis=-1), "int32"), targets),
            "float32",
        )
        outputs = {
            "token_nll": ops.stop_gradient(token_nll),
            "correct": correct,
            "weights": weights,
        }
        return loss_sum, ops.sum(weights), outputs

    def method_metrics(self):
        return [self.perplexity, self.next_token_accuracy]

    def update_method_metrics(self, outputs):
        self.perplexity.update_state(
            outputs["token_nll"], sample_weight=outputs["weights"]
        )
        self.next_token_accuracy.update_state(
            outputs["correct"], sample_weight=outputs["weights"]
        )

    # Generation ------------------------------------------------------------

    def _make_sampler(self, sampler, seed, k, p, temperature):
        if isinstance(sampler, keras_hub.samplers.Sampler):
            return sampler
        if sampler not in SAMPLERS:
            raise ValueError(
                f"Argument `sampler` must be one of {list(SAMPLERS)} or a "
                f"keras_hub.samplers.Sampler. Received: sampler={sampler!r}"
            )
        if seed is not None and not _is_int(seed):
            raise ValueError(
                f"Argument `seed` must be None or an int. Received: seed={seed!r}"
            )
        if not _is_real(temperature) or not temperature > 0:
            raise ValueError(
                "Argument `temperature` must be a number > 0. "
                f"Received: temperature={temperature!r}"
            )
        if sampler == "greedy":
            return keras_hub.samplers.GreedySampler(temperature=temperature)
        if sampler == "top_k":
            size = self.preprocessor.vocabulary_size
            if not _is_int(k) or not 1 <= k <= size:
                raise ValueError(
                    f"Argument `k` must be an int in [1, vocabulary_size={size}]. "
                    f"Received: k={k!r}"
                )
            return keras_hub.samplers.TopKSampler(
                k=int(k), seed=seed, temperature=temperature
            )
        if not _is_real(p) or not 0 < p <= 1:
            raise ValueError(
                f"Argument `p` must be a number in (0, 1]. Received: p={p!r}"
            )
        return keras_hub.samplers.TopPSampler(
            p=float(p), seed=seed, temperature=temperature
        )

    def _next_token_logits(self, buffer, index, banned):
        """Logits for the token at `index` given the buffer's tokens before it.

        Runs the whole decoder on the right-padded buffer (no key/value
        cache): each generated token costs one full forward pass.
        """
        length = self.preprocessor.sequence_length
        missing = length - buffer.shape[1]
        if missing:
            buffer = ops.pad(
                buffer,
                [[0, 0], [0, missing]],
                constant_values=self.preprocessor.pad_id,
            )
        sequence = self.decoder(buffer, training=False)["sequence_output"]
        hidden = ops.take(sequence, index - 1, axis=1)
        logits = ops.cast(
            self.lm_head(hidden, embedding_matrix=self._embedding_matrix()), "float32"
        )
        # Padding, start and mask tokens are never valid continuations.
        return ops.where(banned, -1e9, logits)

    def generate(
        self,
        prompts,
        max_length=None,
        sampler="greedy",
        seed=None,
        k=5,
        p=0.9,
        temperature=1.0,
    ):
        """Continues each prompt token by token until `[SEP]` or `max_length`.

        Each prompt is tokenized as in training (`[CLS] tokens`, without its
        `[SEP]`), then a keras-hub sampler appends one token at a time, every
        row of the batch in parallel, until each row has produced the end
        token `[SEP]` or the sequence holds `max_length` tokens (`[CLS]`
        included). `[PAD]`, `[CLS]` and `[MASK]` are never sampled. There is
        no key/value cache: every new token re-runs the decoder on the whole
        `sequence_length` buffer, so a prompt costs up to `max_length` full
        forward passes (quadratic attention each), fine for small models.

        Args:
            prompts: a string or a non-empty list of strings.
            max_length: total token budget per sequence, `[CLS]` and prompt
                included, in `[2, preprocessor.sequence_length]`. Defaults to
                `sequence_length`. Prompts with `max_length` tokens or more
                are truncated to `max_length` and not continued.
            sampler: `"greedy"`, `"top_k"`, `"top_p"` or a
                `keras_hub.samplers.Sampler` instance (then `seed`, `k`, `p`
                and `temperature` are not used).
            seed: int seed of the `"top_k"` and `"top_p"` samplers: the same
                seed gives the same continuations. `None` draws a fresh one.
            k: number of most likely tokens `"top_k"` samples from.
            p: cumulative probability `"top_p"` (nucleus) samples within.
            temperature: divides the logits before the softmax.

        Returns:
            A list with one string per prompt: the prompt and its
            continuation, detokenized, without special tokens (including
            `[UNK]`).
        """
        if isinstance(prompts, str):
            prompts = [prompts]
        if (
            not isinstance(prompts, list | tuple)
            or not prompts
            or not all(isinstance(text, str) for text in prompts)
        ):
            raise ValueError(
                "Argument `prompts` must be a string or a non-empty list of "
                f"strings. Received: prompts={prompts!r}"
            )
        length = self.preprocessor.sequence_length
        if max_length is None:
            max_length = length
        if not _is_int(max_length) or not 2 <= max_length <= length:
            raise ValueError(
                "Argument `max_length` must be an int in [2, sequence_length="
                f"{length}]. Received: max_length={max_length!r}"
            )
        sampler = self._make_sampler(sampler, seed, k, p, temperature)
        pad_id, sep_id = self.preprocessor.pad_id, self.preprocessor.sep_id
        ids = self.preprocessor(tf.constant(list(prompts)))
        # Drop the prompt's end token: generation continues the text.
        ids = ops.where(ops.equal(ids, sep_id), pad_id, ids)[:, :max_length]
        prompt_mask = ops.not_equal(ids, pad_id)
        start = ops.min(ops.sum(ops.cast(prompt_mask, "int32"), axis=1))
        banned = np.zeros(self.preprocessor.vocabulary_size, bool)
        banned[[pad_id, self.preprocessor.cls_id, self.preprocessor.mask_id]] = True
        banned = ops.convert_to_tensor(banned)

        def next_fn(buffer, cache, index):
            return self._next_token_logits(buffer, index, banned), None, cache

        ids = sampler(
            next_fn,
            ids,
            index=start,
            mask=prompt_mask,
            stop_token_ids=[sep_id],
            model=self,
        )
        return self._detokenize(
            ops.convert_to_numpy(ids), ops.convert_to_numpy(prompt_mask)
        )

    def _detokenize(self, ids, prompt_mask):
        special = set(self.preprocessor.special_ids)
        rows = []
        for row, is_prompt in zip(ids, prompt_mask):
            ends = np.flatnonzero((row == self.preprocessor.sep_id) & ~is_prompt)
            if ends.size:
                row = row[: ends[0]]  # Cut at the first generated end token.
            rows.append([int(t) for t in row if int(t) not in special])
        ragged = tf.RaggedTensor.from_row_lengths(
            tf.constant([t for r in rows for t in r], dtype=tf.int32),
            [len(r) for r in rows],
        )
        texts = self.preprocessor.tokenizer.detokenize(ragged)
        if isinstance(texts, tf.Tensor):
            texts = texts.numpy().tolist()
        return [t.decode("utf-8") if isinstance(t, bytes) else str(t) for t in texts]

    # Saving ----------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config["tie_embeddings"] = self.tie_embeddings
        return config
