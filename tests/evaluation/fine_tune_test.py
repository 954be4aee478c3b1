"""Fine-tuning with freeze strategies: head only, top-k layers, everything."""

import numpy as np
import pytest

from keras_ssl.encoders import transformer_encoder
from keras_ssl.evaluation import fine_tune
from keras_ssl.evaluation.fine_tune import freeze_below_top


def tiny_encoder():
    return transformer_encoder(
        50, 8, hidden_dim=8, num_layers=2, num_heads=2, intermediate_dim=16
    )


@pytest.fixture(scope="module")
def token_data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=96)
    ids = rng.integers(5, 50, size=(96, 8)).astype("int32")
    ids[:, 0] = 1
    ids[:, 1] = np.where(y == 1, 7, 8)  # a keyword carries the label
    return ids[:64], y[:64], ids[64:], y[64:]


def _weights_by_layer(encoder):
    return {
        layer.name: [np.array(w) for w in layer.get_weights()]
        for layer in encoder.layers
        if layer.weights
    }


def _changed(before, after):
    return {
        name
        for name in before
        if any(not np.allclose(a, b) for a, b in zip(before[name], after[name]))
    }


def test_freeze_below_top_counts_blocks_not_norms():
    encoder = tiny_encoder()
    assert freeze_below_top(encoder, 1) == ["transformer_layer_1", "final_norm"]
    assert not encoder.get_layer("embeddings").trainable
    assert encoder.get_layer("final_norm").trainable
    assert freeze_below_top(encoder, 0) == []
    assert freeze_below_top(encoder, 3)[0] == "embeddings"
    for bad in (4, -1, 1.5, True):
        with pytest.raises(ValueError, match="trainable_layers"):
            freeze_below_top(encoder, bad)


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"freeze_encoder": True}, set()),
        ({"trainable_layers": 0}, set()),
        ({"trainable_layers": 1}, {"transformer_layer_1", "final_norm"}),
        (
            {},
            {
                "embeddings",
                "embeddings_norm",
                "transformer_layer_0",
                "transformer_layer_1",
                "final_norm",
            },
        ),
    ],
)
def test_only_the_chosen_layers_change(token_data, kwargs, expected):
    encoder = tiny_encoder()
    before = _weights_by_layer(encoder)
    result = fine_tune(
        encoder, *token_data, epochs=1, batch_size=16, verbose=0, **kwargs
    )
    tuned = result["model"].get_layer(encoder.name)
    assert _changed(before, _weights_by_layer(tuned)) == expected
    assert _changed(before, _weights_by_layer(encoder)) == set()  # a copy
    assert 0.0 <= result["accuracy"] <= 1.0


def test_task_head_needs_two_classes(token_data):
    from keras_ssl.evaluation import build_classifier

    with pytest.raises(ValueError, match="num_classes.*>= 2"):
        build_classifier(tiny_encoder(), 1)
    x_train, _, x_test, _ = token_data
    one_class = np.zeros(len(x_train), "int64")
    with pytest.raises(ValueError, match="num_classes.*>= 2"):
        fine_tune(tiny_encoder(), x_train, one_class, x_test, one_class[: len(x_test)])
