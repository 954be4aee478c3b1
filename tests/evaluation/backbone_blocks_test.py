"""Freeze strategies on a backbone nested in an encoder: blocks are its stages."""

import keras
import keras_hub
import numpy as np
import pytest

from keras_ssl.callbacks import GradualUnfreezing
from keras_ssl.evaluation import build_classifier
from keras_ssl.evaluation.fine_tune import freeze_below_top
from keras_ssl.evaluation.gradual_unfreezing import (
    EncoderBlock,
    encoder_blocks,
    set_trainable_blocks,
)
from keras_ssl.layers import MaskedMeanPooling

LENGTH = 16


def _bert_encoder():
    """keras-hub BERT as one layer of a text encoder (mean-pooled output)."""
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=30,
        num_layers=2,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=LENGTH,
        name="bert",
    )
    token_ids = keras.Input((LENGTH,), dtype="int32", name="token_ids")
    padding_mask = keras.ops.not_equal(token_ids, 0)
    outputs = backbone(
        {
            "token_ids": token_ids,
            "segment_ids": keras.ops.zeros_like(token_ids),
            "padding_mask": padding_mask,
        }
    )
    sequence = outputs["sequence_output"]
    pooled = MaskedMeanPooling()(sequence, padding_mask=padding_mask)
    return keras.Model(
        token_ids, {"sequence_output": sequence, "pooled_output": pooled}
    )


def _wrap(backbone, name="encoder"):
    """Input -> backbone -> global average pooling, as a functional encoder."""
    images = keras.Input(backbone.input_shape[1:])
    features = keras.layers.GlobalAveragePooling2D()(backbone(images))
    return keras.Model(images, keras.layers.Dense(4, name="top_dense")(features))


@pytest.fixture(scope="module")
def bert_encoder():
    keras.utils.set_random_seed(0)
    return _bert_encoder()


@pytest.fixture(scope="module")
def mobilenet_encoder():
    keras.utils.set_random_seed(0)
    backbone = keras.applications.MobileNetV3Small(
        input_shape=(32, 32, 3),
        include_top=False,
        weights=None,
        minimalistic=True,
        alpha=0.75,
    )
    return _wrap(backbone)


def _variables(layers):
    return {id(v) for layer in layers for v in layer.weights}


def test_bert_blocks_are_embeddings_then_transformer_layers(bert_encoder):
    blocks = encoder_blocks(bert_encoder)
    assert [block.name for block in blocks] == [
        "embeddings",
        "transformer_layer_0",
        "transformer_layer_1",
    ]
    assert all(isinstance(block, EncoderBlock) for block in blocks)
    assert [layer.name for layer in blocks[0].layers] == [
        "token_embedding",
        "position_embedding",
        "segment_embedding",
        "embeddings_layer_norm",
    ]
    # The pooler trains with the top Transformer layer.
    assert [layer.name for layer in blocks[-1].layers] == [
        "transformer_layer_1",
        "pooled_dense",
    ]


def test_top_k_on_bert_sets_the_nested_layers(bert_encoder):
    backbone = bert_encoder.get_layer("bert")
    bert_encoder.trainable = False  # undone by set_trainable_blocks
    names = set_trainable_blocks(bert_encoder, 1)
    assert names == ["transformer_layer_1", "pooled_dense"]
    assert backbone.trainable
    top = [
        backbone.get_layer("transformer_layer_1"),
        backbone.get_layer("pooled_dense"),
    ]
    assert {id(v) for v in bert_encoder.trainable_variables} == _variables(top)
    assert not backbone.get_layer("token_embedding").trainable
    assert freeze_below_top(bert_encoder, 0) == []
    assert bert_encoder.trainable_variables == []
    assert len(freeze_below_top(bert_encoder, 3)) == len(backbone.layers) - sum(
        1 for layer in backbone.layers if not layer.weights
    )
    assert len(bert_encoder.trainable_variables) == len(bert_encoder.weights)
    with pytest.raises(ValueError, match=r"\[0, 3\].*transformer_layer_1"):
        freeze_below_top(bert_encoder, 4)


def _snapshot(layers):
    return {layer.name: [np.array(w) for w in layer.get_weights()] for layer in layers}


def _moved(before, after):
    return {
        name
        for name in before
        if any(not np.array_equal(a, b) for a, b in zip(before[name], after[name]))
    }


class _MovedPerEpoch(keras.callbacks.Callback):
    def __init__(self, layers):
        super().__init__()
        self.layers, self.moved = layers, []

    def on_epoch_begin(self, epoch, logs=None):
        self.before = _snapshot(self.layers)

    def on_epoch_end(self, epoch, logs=None):
        self.moved.append(_moved(self.before, _snapshot(self.layers)))


@pytest.mark.filterwarnings("ignore:Gradients do not exist:UserWarning")
def test_gradual_unfreezing_reaches_into_bert():
    keras.utils.set_random_seed(1)
    encoder = _bert_encoder()  # its own: this one is trained
    backbone = encoder.get_layer("bert")
    model = build_classifier(encoder, 2, dropout=0.0, head_norm=False)
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 30, (16, LENGTH)).astype("int32")
    labels = (ids[:, 0] > 15).astype("int64")
    layers = [layer for layer in backbone.layers if layer.weights]
    moved = _MovedPerEpoch(layers)
    callback = GradualUnfreezing(encoder, initial_blocks=1)
    history = model.fit(
        ids, labels, batch_size=8, epochs=3, verbose=0, callbacks=[callback, moved]
    )
    assert history.history["unfrozen_blocks"] == [1, 2, 3]
    # The pooler feeds nothing here (mean pooling): it never moves.
    assert moved.moved == [
        {"transformer_layer_1"},
        {"transformer_layer_1", "transformer_layer_0"},
        {
            "transformer_layer_1",
            "transformer_layer_0",
            "token_embedding",
            "position_embedding",
            "segment_embedding",
            "embeddings_layer_norm",
        },
    ]


def _stage_names(blocks):
    return [block.name for block in blocks]


def test_mobilenet_blocks_are_its_inverted_residual_blocks(mobilenet_encoder):
    names = _stage_names(encoder_blocks(mobilenet_encoder))
    expected = ["expanded_conv"] + [f"expanded_conv_{i}" for i in range(1, 11)]
    # The encoder's own dense layer on top is a block of its own.
    assert names == ["stem", *expected, "conv_1", "top_dense"]


def test_frozen_stages_keep_weights_and_batch_statistics(mobilenet_encoder):
    backbone = mobilenet_encoder.layers[1]
    names = set_trainable_blocks(mobilenet_encoder, 3)
    assert names[0] == "expanded_conv_10_expand" and names[-1] == "top_dense"
    assert all(
        backbone.get_layer(name).trainable for name in names if name != "top_dense"
    )
    frozen = [
        layer for layer in backbone.layers if layer.weights and layer.name not in names
    ]
    assert frozen and not any(layer.trainable for layer in frozen)
    trained = [backbone.get_layer(name) for name in names[:-1]]
    model = build_classifier(mobilenet_encoder, 2, dropout=0.0, head_norm=False)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3))
    before = _snapshot(frozen + trained)
    model.fit(images.astype("float32"), np.ones((4, 2)), epochs=1, verbose=0)
    moved = _moved(before, _snapshot(frozen + trained))
    # Frozen batch norms stay in inference mode: their statistics stay too.
    assert moved.isdisjoint(layer.name for layer in frozen)
    assert {"expanded_conv_10_project", "conv_1", "conv_1_bn"} <= moved


@pytest.mark.parametrize(
    "make, stages",
    [
        (
            lambda: keras.applications.ResNet50V2(
                input_shape=(32, 32, 3), include_top=False, weights=None
            ),
            ["stem", "conv2", "conv3", "conv4", "conv5"],
        ),
        (
            lambda: keras.applications.EfficientNetV2B0(
                input_shape=(32, 32, 3), include_top=False, weights=None
            ),
            ["stem", *(f"block{i}" for i in range(1, 7)), "top_conv"],
        ),
        (
            lambda: keras.applications.ConvNeXtTiny(
                input_shape=(32, 32, 3), include_top=False, weights=None
            ),
            ["stem", *(f"convnext_tiny_stage_{i}" for i in range(4))],
        ),
        (
            lambda: keras_hub.models.ResNetBackbone(
                input_conv_filters=[64],
                input_conv_kernel_sizes=[3],
                stackwise_num_filters=[64, 8],
                stackwise_num_blocks=[1, 1],
                stackwise_num_strides=[1, 2],
                block_type="basic_block",
                use_pre_activation=True,
                image_shape=(32, 32, 3),
            ),
            ["stem", "stack0", "stack1"],
        ),
    ],
    ids=["resnet50v2", "efficientnetv2b0", "convnext_tiny", "keras_hub_resnet"],
)
def test_cnn_backbones_count_their_stages(make, stages):
    encoder = _wrap(make())
    blocks = encoder_blocks(encoder)
    assert _stage_names(blocks)[:-1] == stages
    # Every weighted layer of the backbone is in a block, or a norm on top.
    backbone = encoder.layers[1]
    grouped = {id(layer) for block in blocks[:-1] for layer in block.layers}
    outside = [
        layer.name
        for layer in backbone.layers
        if layer.weights and id(layer) not in grouped
    ]
    assert all("bn" in name or "normalization" in name for name in outside)


def test_keras_hub_vit_blocks_are_its_transformer_blocks():
    backbone = keras_hub.models.ViTBackbone(
        image_shape=(16, 16, 3),
        patch_size=4,
        num_layers=2,
        num_heads=2,
        hidden_dim=8,
        mlp_dim=16,
    )
    images = keras.Input((16, 16, 3))
    encoder = keras.Model(images, backbone(images)[:, 0])
    blocks = encoder_blocks(encoder)
    assert _stage_names(blocks) == [
        "embeddings",
        "transformer_block_1",
        "transformer_block_2",
    ]
    names = set_trainable_blocks(encoder, 1)
    assert names == ["transformer_block_2", "ln"]
    embedding = backbone.get_layer("vit_patching_and_embedding")
    assert not embedding.trainable and backbone.trainable
    trainable = {id(v) for v in encoder.trainable_variables}
    assert trainable == _variables(blocks[-1].layers)


def test_other_nested_models_stay_one_block():
    inner = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(4), keras.layers.Dense(4)], name="mlp"
    )
    inputs = keras.Input((6,))
    outputs = keras.layers.Dense(3, name="out")(inner(inputs))
    encoder = keras.Model(inputs, outputs)
    blocks = encoder_blocks(encoder)
    assert blocks == [inner, encoder.get_layer("out")]  # the layers themselves
    assert set_trainable_blocks(encoder, 1) == ["out"]
    assert not inner.trainable


def test_a_keras_hub_backbone_of_unknown_names_splits_into_its_layers():
    inputs = keras.Input((6,))
    x = keras.layers.Dense(4, name="a")(inputs)
    x = keras.layers.LayerNormalization(name="norm")(x)
    backbone = keras_hub.models.Backbone(
        inputs=inputs, outputs=keras.layers.Dense(4, name="b")(x), name="custom"
    )
    features = keras.Input((6,))
    encoder = keras.Model(features, backbone(features))
    a, b = backbone.get_layer("a"), backbone.get_layer("b")
    assert encoder_blocks(encoder) == [a, b]
    assert set_trainable_blocks(encoder, 1) == ["b"]
    assert backbone.trainable and b.trainable
    assert not (a.trainable or backbone.get_layer("norm").trainable)


def test_count_blocks_agrees(bert_encoder):
    from keras_ssl.tuning import count_blocks

    assert count_blocks(bert_encoder) == 3
