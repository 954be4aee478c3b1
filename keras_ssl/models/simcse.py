"""Unsupervised SimCSE: dropout noise as the only augmentation."""

import warnings

import keras
from keras import ops

from keras_ssl.checks import check_positive
from keras_ssl.compat import flatten_layers
from keras_ssl.cross_replica import gather_from_replicas
from keras_ssl.losses.nt_xent import nt_xent_logits
from keras_ssl.models.text_inputs import TextSSLModel

_NOISE_LAYERS = (
    keras.layers.Dropout,
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
)


def has_dropout(encoder):
    """Whether `encoder` holds a dropout layer with a rate > 0."""
    return any(
        isinstance(layer, _NOISE_LAYERS) and getattr(layer, "rate", 0) > 0
        for layer in flatten_layers(encoder)
    )


@keras.saving.register_keras_serializable(package="keras_ssl")
class SimCSE(TextSSLModel):
    """Unsupervised SimCSE: the same sentences, two dropout masks, InfoNCE.

    Each step encodes the batch twice in one pass (`[ids; ids]`) with the
    encoder in training mode, so its dropout layers draw two independent
    masks: the two `pooled_output`s of a sentence are its positive pair and
    every other sentence of the batch is a negative. The loss is SimCLR's
    symmetric NT-Xent (`nt_xent_logits`: each view picks out its partner
    among the other `2B - 1` views of the global batch, gathered across
    replicas), a two-sided variant of the paper's loss, which contrasts each
    first view against the `B` second views only.

    The views are drawn with dropout on at evaluation time too (like
    SimCLR's random views), so `evaluate` reports the training objective.
    Dropout is the only noise: with an encoder without dropout the two views
    are identical, the positives are trivially found and the loss only
    spreads sentences apart. Training still runs, but the constructor warns
    (`UserWarning`) when it finds no `Dropout` layer with rate > 0 in the
    encoder (the check cannot see noise added by raw ops in a subclassed
    layer, hence a warning and not an error).

    `model(texts_or_ids)` returns the encoder's `pooled_output` (no
    projection, no dropout); `.keras` files carry the preprocessor and take
    raw strings.

    Metrics: `loss`, `contrastive_accuracy` (fraction of views whose most
    similar other view is their positive).

    Args:
        encoder: functional `keras.Model` from `(batch, length)` ids to a
            dict with `sequence_output` and `pooled_output` (see
            `transformer_encoder`), with dropout (0.1 in the paper).
        preprocessor: `TextPreprocessor`; inputs are its token ids or raw
            strings (tokenized in the graph).
        temperature: NT-Xent temperature, > 0 (0.05 in the paper).
        projection_dim: `None` (default) contrasts the pooled outputs
            directly; an int adds a training-only `Dense(projection_dim,
            tanh)` head on them (the paper's MLP over `[CLS]`, dropped at
            test time).
        seed: kept in the config for symmetry with the other models; the
            dropout noise comes from the encoder's own dropout layers (seed
            them with `keras.utils.set_random_seed` before building it).
        augmenter: optional token-id layer applied to each copy of the batch
            before encoding, so the views differ by more than dropout (e.g.
            `RandomTokenDeletion(0.1, ...)` or `RandomSpanCrop`, with the
            preprocessor's pad and special ids). `None`: dropout only, as in
            the paper.

    Example:

    ```python
    pre = TextPreprocessor(vocab, sequence_length=32)
    enc = transformer_encoder(pre.vocabulary_size, 32, dropout=0.1)
    model = SimCSE(enc, pre)
    model.compile(optimizer=keras.optimizers.AdamW(3e-5))
    model.fit(texts, batch_size=64)
    ```

    Reference:
        [Gao et al., 2021](https://arxiv.org/abs/2104.08821)
    """

    _config_objects = ("encoder", "preprocessor", "augmenter")

    def __init__(
        self,
        encoder,
        preprocessor,
        temperature=0.05,
        projection_dim=None,
        seed=None,
        augmenter=None,
        **kwargs,
    ):
        check_positive("temperature", temperature)
        if augmenter is not None and not isinstance(augmenter, keras.layers.Layer):
            raise ValueError(
                "Argument `augmenter` must be None or a Keras layer on token "
                f"ids. Received: augmenter of type {type(augmenter).__name__}"
            )
        super().__init__(encoder, preprocessor, **kwargs)
        self.augmenter = augmenter
        if projection_dim is not None and (
            not isinstance(projection_dim, int)
            or isinstance(projection_dim, bool)
            or projection_dim < 1
        ):
            raise ValueError(
                "Argument `projection_dim` must be None or an int >= 1. "
                f"Received: projection_dim={projection_dim!r}"
            )
        if not has_dropout(encoder):
            warnings.warn(
                "SimCSE: the encoder has no dropout layer with rate > 0, so "
                "the two views of each sentence are identical and the "
                "positives are trivial. Build the encoder with dropout "
                "(e.g. transformer_encoder(..., dropout=0.1)).",
                UserWarning,
                stacklevel=2,
            )
        self.temperature = float(temperature)
        self.projection_dim = projection_dim
        self.seed = seed
        self.projection = None
        if projection_dim is not None:
            self.projection = keras.layers.Dense(
                projection_dim, activation="tanh", name="projection"
            )
            self.projection.build(tuple(encoder.output["pooled_output"].shape))
        self.contrastive_accuracy = keras.metrics.Mean(name="contrastive_accuracy")
        self.build()

    def encode_views(self, token_ids):
        """Two dropout views of every sentence: `(z_1, z_2)`, `(batch, dim)`."""
        batch = ops.shape(token_ids)[0]
        if self.augmenter is None:
            doubled = ops.concatenate([token_ids, token_ids], axis=0)
        else:
            doubled = ops.concatenate(
                [
                    self.augmenter(token_ids, training=True),
                    self.augmenter(token_ids, training=True),
                ],
                axis=0,
            )
        z = self.encoder(doubled, training=True)["pooled_output"]
        if self.projection is not None:
            z = self.projection(z)
        return z[:batch], z[batch:]

    def pair_objective(self, z_1, z_2):
        """NT-Xent of two views; `(loss_sum, count, outputs)`."""
        keys_1, offset = gather_from_replicas(z_1)
        keys_2, _ = gather_from_replicas(z_2)
        logits, positives = nt_xent_logits(
            z_1, z_2, self.temperature, keys_1, keys_2, offset
        )
        per_anchor = ops.sparse_categorical_crossentropy(
            positives, logits, from_logits=True
        )
        correct = ops.cast(
            ops.cast(ops.argmax(logits, axis=-1), "int32") == positives, "float32"
        )
        # Each sentence's loss is the mean of its two directions.
        return 0.5 * ops.sum(per_anchor), ops.shape(z_1)[0], {"correct": correct}

    def compute_objective(self, inputs, training=False):
        z_1, z_2 = self.encode_views(self.token_ids(inputs))
        return self.pair_objective(z_1, z_2)

    def method_metrics(self):
        return [self.contrastive_accuracy]

    def update_method_metrics(self, outputs):
        self.contrastive_accuracy.update_state(outputs["correct"])

    def get_config(self):
        config = super().get_config()
        config.update(
            temperature=self.temperature,
            projection_dim=self.projection_dim,
            seed=self.seed,
        )
        return config
