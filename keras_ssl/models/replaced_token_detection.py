"""ELECTRA-style replaced token detection."""

import keras
import keras_hub
from keras import ops

from keras_ssl.augmentation.token_masker import TokenMasker
from keras_ssl.compat import flatten_layers
from keras_ssl.cross_replica import global_mean
from keras_ssl.encoders.transformer_encoder import transformer_encoder
from keras_ssl.layers.mlm_head import MLMHead
from keras_ssl.models.text_inputs import (
    TextSSLModel,
    check_text_encoder,
    embedding_matrix_getter,
    tied_token_embedding,
)


def _check_weight(name, value, allow_zero):
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not (value >= 0 if allow_zero else value > 0):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(
            f"Argument `{name}` must be a number {bound}. Received: {name}={value!r}"
        )
    return float(value)


def _transformer_settings(encoder):
    """`(num_heads, intermediate_dim, dropout)` of the encoder's first block."""
    for layer in flatten_layers(encoder):
        if isinstance(layer, keras_hub.layers.TransformerEncoder):
            return layer.num_heads, layer.intermediate_dim, layer.dropout
    return None


def default_generator(encoder, preprocessor):
    """A one-block generator about half as wide as the discriminator `encoder`.

    Width `hidden // 2` rounded down to a multiple of the discriminator's
    head count (at least one head's worth), the same head count, half its
    feed-forward width, its dropout, one Transformer block. Without a
    keras-hub Transformer block in `encoder`: 1 head, feed-forward
    `4 * width`, dropout 0.1.
    """
    hidden = int(encoder.output["sequence_output"].shape[-1])
    settings = _transformer_settings(encoder)
    heads, intermediate, dropout = settings if settings else (1, None, 0.1)
    width = max(heads, (hidden // 2) // heads * heads)
    intermediate = max(1, intermediate // 2) if intermediate else 4 * width
    return transformer_encoder(
        preprocessor.vocabulary_size,
        preprocessor.sequence_length,
        hidden_dim=width,
        num_layers=1,
        num_heads=heads,
        intermediate_dim=intermediate,
        dropout=dropout,
        pad_token_id=preprocessor.pad_id,
        name="generator",
    )


def _check_generator(generator, encoder, preprocessor):
    """Raises ValueError when the generator shares a keras-hub backbone with
    the encoder or takes ids of another length than the preprocessor's."""
    shared = {
        id(layer)
        for layer in flatten_layers(encoder, include_self=True)
        if isinstance(layer, keras_hub.models.Backbone)
    }
    for layer in flatten_layers(generator, include_self=True):
        if id(layer) in shared:
            raise ValueError(
                "Argument `generator` must not share layers with `encoder`. "
                f"Received: a generator holding the encoder's {layer.name!r}. "
                "Build the generator on its own backbone (e.g. a smaller "
                "ElectraBackbone with the same vocabulary)."
            )
    shape = getattr(generator, "input_shape", None)
    length = preprocessor.sequence_length
    if isinstance(shape, tuple) and len(shape) == 2 and shape[1] not in (None, length):
        raise ValueError(
            "Argument `generator` must take the preprocessor's token ids. "
            f"Received: generator.input_shape={shape} with "
            f"preprocessor.sequence_length={length}"
        )


@keras.saving.register_keras_serializable(package="keras_ssl")
class ReplacedTokenDetection(TextSSLModel):
    """ELECTRA: a generator fills in masked tokens, the encoder spots them.

    Each step selects a fresh random `mask_rate` of the non-special tokens
    and replaces all of them with `[MASK]` (no random/unchanged split, as in
    ELECTRA). A small generator (a masked language model) predicts them; its
    loss is the mean cross-entropy over the masked tokens. Replacements are
    then *sampled* from the generator's softmax (special tokens excluded, so
    a sample never turns into padding; no gradient flows through the
    sample), written into the *original* sequence, and the discriminator
    (`encoder`) predicts for every non-padding token, `[CLS]` and `[SEP]`
    included as in the paper, whether it was replaced. A sample that equals
    the original token counts as original. Its loss is the mean binary
    cross-entropy over those tokens. Total loss:
    `generator_weight * mlm + discriminator_weight * rtd`, each a mean over
    the global batch.

    The discriminator is the transferable encoder: `model(texts_or_ids)`
    returns its `pooled_output`, and `model.encoder` is it. Generator and
    discriminator keep separate embeddings (the paper shares them); the
    generator's MLM head is tied to the generator's own token embeddings
    when it has a keras-hub `TokenAndPositionEmbedding` or a keras-hub
    backbone's `token_embedding` as wide as its output, and has its own
    output matrix otherwise.

    Pretrained ELECTRA: wrap the discriminator and a smaller generator
    backbone over the same vocabulary with
    `keras_ssl.encoders.text_encoder_from_backbone` (or load both with
    `load_text_preset`) and pass the preset's `PresetTextPreprocessor`.

    Metrics: `loss`, `mlm_accuracy` (generator, top-1 over masked tokens),
    `rtd_accuracy` (discriminator, over non-padding tokens) and
    `replaced_fraction` (fraction of non-padding tokens that the sample
    actually changed; at most about `mask_rate`, lower as the generator
    improves).

    Args:
        encoder: the discriminator, a functional `keras.Model` from
            `(batch, length)` ids to a dict with `sequence_output` and
            `pooled_output` (see `transformer_encoder`).
        preprocessor: `TextPreprocessor` or `PresetTextPreprocessor`
            (vocabulary, sequence length, special tokens). Inputs are its
            token ids or raw strings (tokenized in the graph).
        generator: like `encoder`, over the same vocabulary and sequence
            length, sharing no layer with it (e.g. `text_encoder_from_backbone`
            of a smaller `ElectraBackbone`). Defaults to
            `default_generator(encoder, preprocessor)`: one Transformer
            block, half the width (rounded down to a multiple of the head
            count), same heads, half the feed-forward width.
        mask_rate: fraction of tokens masked, in `(0, 1)`.
        generator_weight: weight of the generator's MLM loss, >= 0.
        discriminator_weight: weight of the discriminator's loss, > 0 (50 in
            the paper).
        seed: seed of the masking and of the sampling.

    Example:

    ```python
    pre = TextPreprocessor(vocab, sequence_length=32)
    enc = transformer_encoder(pre.vocabulary_size, 32)
    model = ReplacedTokenDetection(enc, pre)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    model.fit(token_ids, batch_size=64)

    # Continued pretraining of a pretrained ELECTRA pair (local presets):
    encoder, pre = load_text_preset("electra_base_discriminator_uncased_en/")
    generator, _ = load_text_preset("electra_base_generator_uncased_en/")
    model = ReplacedTokenDetection(encoder, pre, generator=generator)
    ```

    Reference:
        [Clark et al., 2020](https://arxiv.org/abs/2003.10555)
    """

    _config_objects = ("encoder", "preprocessor", "generator")

    def __init__(
        self,
        encoder,
        preprocessor,
        generator=None,
        mask_rate=0.15,
        generator_weight=1.0,
        discriminator_weight=50.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(encoder, preprocessor, **kwargs)
        self.generator_weight = _check_weight(
            "generator_weight", generator_weight, allow_zero=True
        )
        self.discriminator_weight = _check_weight(
            "discriminator_weight", discriminator_weight, allow_zero=False
        )
        if generator is None:
            generator = default_generator(encoder, preprocessor)
        generator_outputs = check_text_encoder(generator, name="generator")
        if generator is encoder:
            raise ValueError(
                "Argument `generator` must be a different model from `encoder`."
            )
        _check_generator(generator, encoder, preprocessor)
        self.generator = generator
        self.mask_rate = mask_rate
        self.seed = seed
        vocabulary_size = preprocessor.vocabulary_size
        self.masker = TokenMasker(
            vocabulary_size=vocabulary_size,
            mask_token_id=preprocessor.mask_id,
            special_token_ids=preprocessor.special_ids,
            sequence_length=preprocessor.sequence_length,
            mask_rate=mask_rate,
            mask_token_rate=1.0,
            random_token_rate=0.0,
            seed=seed,
        )
        self.sampling_seed = keras.random.SeedGenerator(
            None if seed is None else seed + 1
        )
        special = set(self.masker.special_token_ids)
        # Added to the generator's logits before sampling.
        self._sampling_penalty = tuple(
            -1e9 if i in special else 0.0 for i in range(vocabulary_size)
        )

        embedding = tied_token_embedding(
            generator, vocabulary_size, name="generator", required=False
        )
        self._embedding_matrix = embedding_matrix_getter(embedding)
        self.mlm_head = MLMHead(
            vocabulary_size,
            generator_outputs["sequence_output"].shape[-1],
            tied=embedding is not None,
            name="mlm_head",
        )
        self.mlm_head.build()
        hidden_dim = encoder.output["sequence_output"].shape[-1]
        self.discriminator_head = keras.Sequential(
            [
                keras.layers.Dense(hidden_dim, activation="gelu"),
                keras.layers.Dense(1),
            ],
            name="discriminator_head",
        )
        self.discriminator_head.build((None, None, hidden_dim))
        self.mlm_accuracy = keras.metrics.Mean(name="mlm_accuracy")
        self.rtd_accuracy = keras.metrics.Mean(name="rtd_accuracy")
        self.replaced_fraction = keras.metrics.Mean(name="replaced_fraction")
        self.build()

    def corrupt(self, token_ids, training=False):
        """Masks, runs the generator and samples the replaced sequence.

        Returns a dict: `masked` (the `TokenMasker` output), `mlm_logits`
        (generator logits at the masked positions, `(batch, predictions,
        vocabulary)`), `corrupted_ids` (`(batch, length)`), `is_replaced`
        (1.0 where `corrupted_ids != token_ids`) and `real_weights` (1.0 on
        non-padding tokens).
        """
        token_ids = ops.cast(token_ids, "int32")
        masked = self.masker(token_ids)
        sequence = self.generator(masked["token_ids"], training=training)[
            "sequence_output"
        ]
        logits = self.mlm_head(
            sequence,
            mask_positions=masked["mask_positions"],
            embedding_matrix=self._embedding_matrix(),
        )
        logits = ops.cast(logits, "float32")
        batch, predictions = ops.shape(logits)[0], ops.shape(logits)[1]
        vocabulary_size = self.preprocessor.vocabulary_size
        penalty = ops.convert_to_tensor(self._sampling_penalty, "float32")
        flat = ops.reshape(ops.stop_gradient(logits) + penalty, (-1, vocabulary_size))
        sampled = keras.random.categorical(flat, 1, seed=self.sampling_seed)
        sampled = ops.reshape(ops.cast(sampled, "int32"), (batch, predictions))

        # Write the samples into the original sequence at the chosen slots.
        length = ops.shape(token_ids)[1]
        chosen = ops.cast(masked["mask_weights"] > 0, "int32")
        hits = ops.one_hot(masked["mask_positions"], length, dtype="int32")
        hits = hits * chosen[..., None]
        written = ops.sum(hits * sampled[..., None], axis=1)
        corrupted = ops.where(ops.sum(hits, axis=1) > 0, written, token_ids)
        return {
            "masked": masked,
            "mlm_logits": logits,
            "corrupted_ids": corrupted,
            "is_replaced": ops.cast(corrupted != token_ids, "float32"),
            "real_weights": ops.cast(token_ids != self.preprocessor.pad_id, "float32"),
        }

    def discriminator_logits(self, corrupted_ids, training=False):
        """Per-token replaced-vs-original logits, `(batch, length)` float32."""
        sequence = self.encoder(corrupted_ids, training=training)["sequence_output"]
        logits = self.discriminator_head(sequence, training=training)
        return ops.cast(logits[..., 0], "float32")

    def compute_objective(self, inputs, training=False):
        fake = self.corrupt(self.token_ids(inputs), training=training)
        masked = fake["masked"]
        mlm_logits = fake["mlm_logits"]
        mask_weights = masked["mask_weights"]
        mlm_loss = ops.sparse_categorical_crossentropy(
            masked["mask_ids"], mlm_logits, from_logits=True
        )
        mlm_correct = ops.cast(
            ops.cast(ops.argmax(mlm_logits, axis=-1), "int32") == masked["mask_ids"],
            "float32",
        )

        rtd_logits = self.discriminator_logits(fake["corrupted_ids"], training)
        labels = fake["is_replaced"]
        real = fake["real_weights"]
        rtd_loss = ops.binary_crossentropy(labels, rtd_logits, from_logits=True)
        rtd_correct = ops.cast(ops.cast(rtd_logits > 0, "float32") == labels, "float32")

        loss = self.generator_weight * global_mean(
            ops.sum(mlm_loss * mask_weights), ops.sum(mask_weights)
        ) + self.discriminator_weight * global_mean(
            ops.sum(rtd_loss * real), ops.sum(real)
        )
        outputs = {
            "mlm_logits": mlm_logits,
            "mlm_correct": mlm_correct,
            "mask_ids": masked["mask_ids"],
            "mask_weights": mask_weights,
            "rtd_logits": rtd_logits,
            "rtd_correct": rtd_correct,
            "is_replaced": labels,
            "real_weights": real,
        }
        return loss, None, outputs

    def method_metrics(self):
        return [self.mlm_accuracy, self.rtd_accuracy, self.replaced_fraction]

    def update_method_metrics(self, outputs):
        self.mlm_accuracy.update_state(
            outputs["mlm_correct"], sample_weight=outputs["mask_weights"]
        )
        real = outputs["real_weights"]
        self.rtd_accuracy.update_state(outputs["rtd_correct"], sample_weight=real)
        self.replaced_fraction.update_state(outputs["is_replaced"], sample_weight=real)

    def get_config(self):
        config = super().get_config()
        config.update(
            mask_rate=self.mask_rate,
            generator_weight=self.generator_weight,
            discriminator_weight=self.discriminator_weight,
            seed=self.seed,
        )
        return config
