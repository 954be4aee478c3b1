"""Gradual unfreezing: one more encoder block trains at each epoch.

It lives with `fine_tune`, its user; `keras_ssl.callbacks` re-exports
`GradualUnfreezing` (callbacks may import evaluation, not the reverse).
"""

import logging

import keras

logger = logging.getLogger("keras_ssl")

_NORMS = (keras.layers.LayerNormalization, keras.layers.BatchNormalization)


def encoder_blocks(encoder):
    """The encoder's blocks, bottom to top: its layers with weights, norms not counted.

    For a `transformer_encoder` these are the embeddings and the Transformer
    layers; for a `conv_encoder`, the convolutions.
    """
    return [
        layer
        for layer in encoder.layers
        if layer.weights and not isinstance(layer, _NORMS)
    ]


def set_trainable_blocks(encoder, num_blocks):
    """Makes only the top `num_blocks` blocks of `encoder` trainable.

    Normalisation layers above the lowest trainable block stay trainable (a
    block's own norm trains with it); everything below is frozen. The
    encoder itself is set trainable first, so this also undoes an earlier
    `encoder.trainable = False`. `num_blocks` must be in
    `[0, len(encoder_blocks(encoder))]` (checked by the callers). (Setting
    `trainable` on a functional model does not reach its layers in Keras 3,
    so each layer with weights is set here.)

    Returns:
        The names of the trainable layers (with weights), bottom to top.
    """
    top = _top_layers(encoder, num_blocks)
    encoder.trainable = True
    for layer in encoder.layers:
        if layer.weights:
            layer.trainable = any(layer is t for t in top)
    return [layer.name for layer in top]


def _top_layers(encoder, num_blocks):
    """The layers with weights from the `num_blocks`-th block from the top up."""
    weighted = [layer for layer in encoder.layers if layer.weights]
    blocks = encoder_blocks(encoder)
    lowest = weighted.index(blocks[-num_blocks]) if num_blocks else len(weighted)
    return weighted[lowest:]


class GradualUnfreezing(keras.callbacks.Callback):
    """Unfreezes the encoder one block at a time, from the top, epoch by epoch.

    At the start of epoch `e` the top `initial_blocks + e * blocks_per_epoch`
    blocks of `encoder` (see `encoder_blocks`; capped at all of them) are
    trainable and the rest are frozen; the head, which is outside the
    encoder, always trains. This is the gradual unfreezing of ULMFiT: the
    randomly initialised head settles before the pretrained layers below it
    start to move, the top (most task-specific) layers first.

    Keras compiles the training step for the variables that are trainable
    when it is first traced, so after changing which layers train the
    callback rebuilds it (`model.make_train_function(force=True)`); frozen
    layers then get no gradient and no weight decay. A Keras optimizer only
    updates the variables it was built with, so it must be built over the
    encoder's weights: start `fit` with the encoder trainable (the callback
    freezes the lower blocks when the first epoch begins) or leave the
    optimizer unbuilt (the callback then builds it over the whole model).

    The number of trainable blocks is added to the epoch logs as
    `unfrozen_blocks` (so it shows in the history and TensorBoard).

    Args:
        encoder: the `keras.Model` inside the trained model whose blocks to
            unfreeze (e.g. the encoder of `build_classifier`).
        initial_blocks: blocks trainable in the first epoch (`0`: the head
            only).
        blocks_per_epoch: blocks unfrozen at each later epoch, >= 1.

    Example:

    ```python
    classifier = build_classifier(encoder, num_classes=10)
    classifier.compile(optimizer="adamw", loss=loss)
    classifier.fit(x, y, epochs=4, callbacks=[GradualUnfreezing(encoder)])
    ```

    `keras_ssl.evaluation.fine_tune(..., gradual_unfreezing=True)` sets this
    up (optimizer built over every block, callback first).

    Reference:
        [Howard & Ruder, 2018](https://arxiv.org/abs/1801.06146)
    """

    def __init__(self, encoder, initial_blocks=0, blocks_per_epoch=1):
        super().__init__()
        if not isinstance(encoder, keras.Model):
            raise ValueError(
                "Argument `encoder` must be a keras.Model (the encoder inside "
                f"the trained model). Received: encoder={encoder!r} of type "
                f"{type(encoder).__name__}"
            )
        num_blocks = len(encoder_blocks(encoder))
        if (
            isinstance(initial_blocks, bool)
            or not isinstance(initial_blocks, int)
            or not 0 <= initial_blocks <= num_blocks
        ):
            raise ValueError(
                f"Argument `initial_blocks` must be an int in [0, {num_blocks}] "
                "(the encoder's blocks). "
                f"Received: initial_blocks={initial_blocks!r}"
            )
        if (
            isinstance(blocks_per_epoch, bool)
            or not isinstance(blocks_per_epoch, int)
            or blocks_per_epoch < 1
        ):
            raise ValueError(
                "Argument `blocks_per_epoch` must be a positive int. "
                f"Received: blocks_per_epoch={blocks_per_epoch!r}"
            )
        self.encoder = encoder
        self.num_blocks = num_blocks
        self.initial_blocks = initial_blocks
        self.blocks_per_epoch = blocks_per_epoch
        self.unfrozen_blocks = None

    def on_train_begin(self, logs=None):
        model_vars = {id(v) for v in self.model.weights}
        if not any(id(v) in model_vars for v in self.encoder.weights):
            raise ValueError(
                "Argument `encoder` must be part of the trained model. "
                f"Received: encoder {self.encoder.name!r}, which is not in "
                f"model {self.model.name!r}"
            )
        self._check_optimizer()
        self.unfrozen_blocks = None

    def _check_optimizer(self):
        optimizer = self.model.optimizer
        if optimizer is None:
            return
        if not optimizer.built:
            set_trainable_blocks(self.encoder, self.num_blocks)
            optimizer.build(self.model.trainable_variables)
            return
        known = getattr(optimizer, "_trainable_variables", None)
        if known is None:  # another optimizer implementation: cannot check
            return
        known = {id(v) for v in known}
        epochs = (self.params or {}).get("epochs") or 1
        last = self.initial_blocks + (epochs - 1) * self.blocks_per_epoch
        # The layers trainable in the last epoch (reset at the first one).
        set_trainable_blocks(self.encoder, min(last, self.num_blocks))
        missing = [
            v.path for v in self.encoder.trainable_variables if id(v) not in known
        ]
        if missing:
            raise ValueError(
                "GradualUnfreezing needs an optimizer built over the encoder's "
                "weights, but it was built without "
                f"{missing[:3]}{' ...' if len(missing) > 3 else ''}. Start "
                "`fit` with the encoder trainable (the callback freezes its "
                "lower blocks when the first epoch begins), or compile with a "
                "new optimizer."
            )

    def on_epoch_begin(self, epoch, logs=None):
        wanted = min(
            self.initial_blocks + epoch * self.blocks_per_epoch, self.num_blocks
        )
        if wanted == self.unfrozen_blocks:
            return
        names = set_trainable_blocks(self.encoder, wanted)
        self.unfrozen_blocks = wanted
        # The traced step captured the previous trainable variables.
        self.model.make_train_function(force=True)
        logger.info(
            "Epoch %d: %d of %d encoder blocks trainable (%s).",
            epoch + 1,
            wanted,
            self.num_blocks,
            ", ".join(names) or "head only",
        )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.unfrozen_blocks is not None:
            logs["unfrozen_blocks"] = self.unfrozen_blocks
