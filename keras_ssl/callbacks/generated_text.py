"""Samples of a causal language model, written to TensorBoard as text."""

import tensorflow as tf

from keras_ssl.callbacks import _monitoring as m
from keras_ssl.checks import check_seed, is_int
from keras_ssl.models.causal_language_model import SAMPLERS, CausalLanguageModel


class GeneratedText(m.EpochSummaryCallback):
    """Writes the model's continuations of a few prompts as a text summary.

    Every `every` epochs, `model.generate(prompts, ...)` continues each
    prompt and a markdown table (prompt, generated text) goes to the text
    summary `tag`. The default greedy sampler is deterministic, so the
    table changes only as the model does; `"top_k"` / `"top_p"` sample with
    `seed` (their own generator: the training run's random state is not
    touched).

    For `CausalLanguageModel`.

    Args:
        prompts: raw strings to continue.
        log_dir: folder of the TensorBoard run to write to.
        max_length: total token budget per sample (see
            `CausalLanguageModel.generate`); defaults to the model's
            `sequence_length`.
        sampler: `"greedy"`, `"top_k"` or `"top_p"`.
        every: write every `every` epochs.
        seed: seed of the `"top_k"` / `"top_p"` samplers.
        tag: name of the text summary.

    Example:

    >>> model.fit(token_ids, epochs=3, callbacks=[  # doctest: +SKIP
    ...     GeneratedText(["a small", "the act of"], "logs/monitor")])
    """

    def __init__(
        self,
        prompts,
        log_dir,
        max_length=None,
        sampler="greedy",
        every=1,
        seed=0,
        tag="generated_text",
    ):
        super().__init__(log_dir, every)
        self.prompts = m.text_list(prompts, "prompts")
        if max_length is not None and (not is_int(max_length) or max_length < 2):
            raise ValueError(
                "Argument `max_length` must be None or an int >= 2. "
                f"Received: max_length={max_length!r}"
            )
        if sampler not in SAMPLERS:
            raise ValueError(
                f"Argument `sampler` must be one of {list(SAMPLERS)}. "
                f"Received: sampler={sampler!r}"
            )
        self.max_length = max_length
        self.sampler = sampler
        self.seed = check_seed(seed)
        self.tag = str(tag)

    def set_model(self, model):
        if not isinstance(model, CausalLanguageModel):
            raise ValueError(
                "GeneratedText needs a CausalLanguageModel (it calls "
                f"`generate`). Received: model of type {type(model).__name__}"
            )
        length = model.preprocessor.sequence_length
        if self.max_length is not None and self.max_length > length:
            raise ValueError(
                "Argument `max_length` must not exceed the model's "
                f"sequence_length={length}. Received: max_length={self.max_length}"
            )
        super().set_model(model)

    def generate(self):
        """The model's continuations of the prompts, one string each."""
        return self.model.generate(
            self.prompts,
            max_length=self.max_length,
            sampler=self.sampler,
            seed=None if self.sampler == "greedy" else self.seed,
        )

    def table(self):
        rows = [[p, g] for p, g in zip(self.prompts, self.generate())]
        return m.markdown_table(["prompt", "generated"], rows)

    def write_summaries(self, epoch):
        tf.summary.text(self.tag, self.table(), step=epoch)
