"""Gradual unfreezing: one more encoder block trains at each epoch.

It lives with `fine_tune`, its user; `keras_ssl.callbacks` re-exports
`GradualUnfreezing` (callbacks may import evaluation, not the reverse).
"""

import logging
import re

import keras
import keras_hub

from keras_ssl.compat import flatten_layers

logger = logging.getLogger("keras_ssl")

_NORMS = (keras.layers.LayerNormalization, keras.layers.BatchNormalization)

_TRANSFORMER = re.compile(r"transformer_(?:layer|block)_\d+")

#: How a backbone's layer names tell its stages (Keras Applications and
#: keras-hub): `(pattern, block name)`; the first pattern that matches the
#: whole layer name gives the name of its block.
_STAGE_RULES = tuple(
    (re.compile(pattern), block_name)
    for pattern, block_name in (
        # keras-hub Transformers (BERT, GPT-2, ...: `transformer_layer_i`; ViT:
        # `transformer_block_i` inside its encoder layer).
        (_TRANSFORMER.pattern, lambda m: m[0]),
        # ConvNeXt: `convnext_tiny_stage_1_block_0_...`; the downsampling block
        # in front of stage i + 1 trains with it.
        (r"(.*_stage_\d+)_.*", lambda m: m[1]),
        (r"(.*_)downsampling_block_(\d+)", lambda m: f"{m[1]}stage_{int(m[2]) + 1}"),
        # ResNet, ResNetV2, DenseNet: `conv2_block1_1_conv`; keras-hub ResNet:
        # `stack0_block0_1_conv`. DenseNet's transition `pool2_conv` in front of
        # `conv3` trains with it.
        (r"((?:conv|stack)\d+)_block\d+_.*", lambda m: m[1]),
        (r"pool(\d+)_(?:bn|conv)", lambda m: f"conv{int(m[1]) + 1}"),
        # EfficientNet(V2), VGG, Xception: `block2a_expand_conv`, `block1_conv1`.
        (r"(block\d+)[a-z]?_.*", lambda m: m[1]),
        # MobileNetV2: `block_3_expand`; MobileNetV2/V3: `expanded_conv_3_project`.
        (r"(block_\d+)_.*", lambda m: m[1]),
        (r"(expanded_conv(?:_\d+)?)_.*", lambda m: m[1]),
    )
)


def _stage(name):
    """The block name of a backbone layer called `name`, or None."""
    for pattern, block_name in _STAGE_RULES:
        match = pattern.fullmatch(name)
        if match is not None:
            return block_name(match)
    return None


class EncoderBlock:
    """Consecutive layers of a backbone that train together, as one block.

    `encoder_blocks` returns one for each stage or Transformer layer of a
    backbone nested in an encoder (and for the layers below and above
    them); the encoder's own layers are blocks by themselves.

    Attributes:
        name: the block's name: the stage (`"conv4"`, `"block6"`,
            `"expanded_conv_7"`, `"convnext_tiny_stage_2"`), the Transformer
            layer (`"transformer_layer_3"`), `"embeddings"` or `"stem"` for
            the layers below them, else its first layer's name.
        layers: its layers, bottom to top (normalisation layers included).
    """

    def __init__(self, name, layers):
        self.name = name
        self.layers = list(layers)

    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    def __repr__(self):
        return f"EncoderBlock(name={self.name!r}, layers={len(self.layers)})"


def _children(layer):
    """The layers directly inside `layer`, in Keras's order."""
    children, inside = [], set()
    for sub in flatten_layers(layer):
        if id(sub) in inside:
            continue
        children.append(sub)
        inside.update(id(s) for s in flatten_layers(sub))
    return children


def _is_norm(layer):
    return isinstance(layer, _NORMS)


def _is_backbone(model):
    """Whether `model` is a backbone to split into stages."""
    if isinstance(model, keras_hub.models.Backbone):
        return True
    return any(_stage(layer.name) for layer in model.layers if layer.weights)


def _backbone_layers(backbone):
    """The weighted layers of a backbone, bottom to top; a layer that holds
    the Transformer blocks (keras-hub ViT's encoder) gives its sublayers."""
    layers = []
    for layer in backbone.layers:
        if not layer.weights:
            continue
        inner = [] if _stage(layer.name) else _children(layer)
        if any(_stage(sub.name) for sub in inner):
            layers.extend(sub for sub in inner if sub.weights)
        else:
            layers.append(layer)
    return layers


def _backbone_units(backbone):
    """`(layer, block)` pairs of a backbone, bottom to top: its weighted
    layers, grouped into stages (`block` None: a norm outside any block)."""
    runs = []  # consecutive layers of one stage (stage None: between stages)
    for layer in _backbone_layers(backbone):
        stage = _stage(layer.name)
        if runs and runs[-1][0] == stage:
            runs[-1][1].append(layer)
        else:
            runs.append((stage, [layer]))
    staged = [i for i, (stage, _) in enumerate(runs) if stage]
    if not staged:  # names of no known family: each layer is a block
        return [
            (layer, None if _is_norm(layer) else layer)
            for _, run in runs
            for layer in run
        ]
    # Above the last Transformer layer (a pooler, a final norm) nothing is a
    # block of its own: it trains with that layer, as the pooler may not
    # even feed the encoder's output.
    top = staged[-1] if staged and _TRANSFORMER.fullmatch(runs[staged[-1]][0]) else None
    units, block = [], None
    for i, (stage, run) in enumerate(runs):
        if top is not None and i > top:
            block.layers.extend(run)
        elif all(_is_norm(layer) for layer in run):  # e.g. a final norm
            units.extend((layer, None) for layer in run)
            continue
        elif stage is not None:
            block = EncoderBlock(stage, run)
        elif i == 0:
            embeds = any("embedding" in layer.name for layer in run)
            block = EncoderBlock("embeddings" if embeds else "stem", run)
        else:
            first = next(layer for layer in run if not _is_norm(layer))
            block = EncoderBlock(first.name, run)
        units.extend((layer, block) for layer in run)
    return units


def _units(encoder):
    """`(layer, block)` for each layer that `set_trainable_blocks` sets,
    bottom to top; `block` is None for a normalisation layer outside any
    block."""
    units = []
    for layer in encoder.layers:
        if not layer.weights:
            continue
        if isinstance(layer, keras.Model) and _is_backbone(layer):
            units.extend(_backbone_units(layer))
        else:
            units.append((layer, None if _is_norm(layer) else layer))
    return units


def _blocks(units):
    blocks = []
    for _, block in units:
        if block is not None and not any(block is b for b in blocks):
            blocks.append(block)
    return blocks


def encoder_blocks(encoder):
    """The encoder's blocks, bottom to top, as fine-tuning counts them.

    The encoder's layers with weights are its blocks, normalisation layers
    not counted: for a `transformer_encoder` the embeddings and the
    Transformer layers, for a `conv_encoder` the convolutions.

    A backbone nested in the encoder as one layer (a Keras Applications
    model or a keras-hub `Backbone`, as `image_encoder_from_backbone` and
    `text_encoder_from_backbone` build) is split into its own blocks (each
    an `EncoderBlock`): for a keras-hub Transformer the embeddings (token,
    position and segment embeddings and their norm), then each
    `transformer_layer_i` (ViT: `transformer_block_i`), the top one with
    the pooler and final norm above it (the pooler may not feed the
    encoder's output, so it is no block of its own); for a CNN its stem,
    each stage (ResNet `conv2`..`conv5`, EfficientNet `block1`..`block7`,
    MobileNet `expanded_conv_i`, ConvNeXt `..._stage_i`, keras-hub ResNet
    `stack0`..) and its top layers. Stages are told by the layer names of
    these families (a keras-hub backbone with other names: each layer with
    weights is a block); another nested model counts as one block.

    Returns:
        A list of layers and `EncoderBlock`s (each with a `name`).
    """
    return _blocks(_units(encoder))


def set_trainable_blocks(encoder, num_blocks):
    """Makes only the top `num_blocks` blocks of `encoder` trainable.

    Normalisation layers above the lowest trainable block stay trainable (a
    block's own norm trains with it); everything below is frozen. The
    encoder itself is set trainable first, so this also undoes an earlier
    `encoder.trainable = False`. `num_blocks` must be in
    `[0, len(encoder_blocks(encoder))]` (checked by the callers). Each layer
    with weights is set on its own, inside a nested backbone too (the
    backbone stays trainable so that its unfrozen stages train).

    Returns:
        The names of the trainable layers (with weights), bottom to top.
    """
    units = _units(encoder)
    top = _top_layers(units, num_blocks)
    encoder.trainable = True
    for layer, _ in units:
        layer.trainable = any(layer is t for t in top)
    return [layer.name for layer in top]


def _top_layers(units, num_blocks):
    """The layers from the `num_blocks`-th block from the top up."""
    if not num_blocks:
        return []
    lowest_block = _blocks(units)[-num_blocks]
    lowest = next(i for i, (_, block) in enumerate(units) if block is lowest_block)
    return [layer for layer, _ in units[lowest:]]


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
        set_trainable_blocks(self.encoder, wanted)
        names = [block.name for block in encoder_blocks(self.encoder)]
        names = names[len(names) - wanted :]
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
