"""The demo's figures from fake results, and its per-step training log."""

import os

import keras
import numpy as np

from keras_ssl.app.demo import StepLog, write_demo_figures

ROWS = [
    {
        "task": "fashion_mnist",
        "protocol": "linear probe",
        "ssl": 0.85,
        "random_init": 0.79,
        "raw_input": 0.79,
    },
    {
        "task": "wordnet_nouns",
        "protocol": "fine-tune 4 ep (8000)",
        "ssl": 0.72,
        "random_init": 0.70,
        "raw_input": 0.71,
    },
]


def test_step_log_records_exact_means_over_each_window():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    log = StepLog(every=2)
    assert log.curve() is None
    x = np.random.default_rng(0).normal(size=(40, 3)).astype("float32")
    history = model.fit(
        x, x[:, :1], batch_size=4, epochs=2, callbacks=[log], verbose=0
    ).history
    curve = log.curve()
    assert curve["x"] == list(range(2, 21, 2))  # 10 steps per epoch
    assert curve["x_label"] == "step"
    assert all(set(r) == {"loss", "mae"} for r in curve["history"])
    # Each point is the mean loss of its two steps (not Keras' running mean
    # since the epoch start): the five windows of an epoch average to the
    # epoch's loss, and the first window of epoch 2 starts afresh.
    losses = [r["loss"] for r in curve["history"]]
    for epoch in range(2):
        np.testing.assert_allclose(
            np.mean(losses[5 * epoch : 5 * epoch + 5]), history["loss"][epoch], 1e-5
        )
    assert losses[0] != history["loss"][0]
    # Metrics without running totals (here inside `compile_metrics`) are
    # recorded as logged: at the end of an epoch, the epoch's value.
    np.testing.assert_allclose(curve["history"][4]["mae"], history["mae"][0], 1e-6)


def test_write_demo_figures(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 90)
    embeddings = np.eye(3)[labels] * 3 + rng.normal(size=(90, 3))
    curves = {
        # Per step (from StepLog), and the per-epoch history of a short run.
        "simclr": {
            "history": [
                {"loss": 5 - i / 10, "contrastive_accuracy": i / 40} for i in range(40)
            ],
            "x": list(range(5, 205, 5)),
            "x_label": "step",
        },
        "mlm": {"history": {"loss": [8.3], "mlm_accuracy": [0.01]}},
    }
    paths = write_demo_figures(
        str(tmp_path),
        curves,
        ROWS,
        embeddings=embeddings,
        labels=labels,
        label_names=["a", "b", "c"],
    )
    names = [os.path.basename(p) for p in paths]
    assert names == [
        "loss_simclr.png",
        "loss_mlm.png",
        "embedding_map_simclr.png",
        "baselines.png",
    ]
    for path in paths:
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        assert os.path.getsize(path) > 5000
    assert sorted(os.listdir(tmp_path)) == sorted(names)

    # Without embeddings there is no map.
    paths = write_demo_figures(str(tmp_path / "b"), {}, ROWS)
    assert [os.path.basename(p) for p in paths] == ["baselines.png"]
