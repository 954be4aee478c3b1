import json
import os
import subprocess
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.encoders import conv_encoder, transformer_encoder
from keras_ssl.models.simcse import SimCSE, has_dropout
from keras_ssl.testing import TestCase

HIDDEN = 16
METRICS = {"loss", "contrastive_accuracy"}


def tiny_encoder(preprocessor, dropout=0.1):
    return transformer_encoder(
        preprocessor.vocabulary_size,
        preprocessor.sequence_length,
        hidden_dim=HIDDEN,
        num_layers=1,
        num_heads=2,
        intermediate_dim=32,
        dropout=dropout,
    )


def tiny_simcse(preprocessor, dropout=0.1, seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    encoder = tiny_encoder(preprocessor, dropout)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # dropout=0 warns
        return SimCSE(encoder, preprocessor, seed=seed, **kwargs)


def strings(texts):
    return tf.constant(np.asarray(texts).astype(str))


def np_nt_xent(z_1, z_2, temperature):
    """Symmetric NT-Xent in NumPy: mean loss and per-view argmax hits."""
    z = np.concatenate([z_1, z_2]).astype("float64")
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    sim = z @ z.T / temperature
    np.fill_diagonal(sim, -np.inf)
    n = len(z_1)
    positives = np.concatenate([np.arange(n) + n, np.arange(n)])
    log_probs = sim - np.log(np.exp(sim).sum(axis=1, keepdims=True))
    per_view = -log_probs[np.arange(2 * n), positives]
    hits = sim.argmax(axis=1) == positives
    return (0.5 * (per_view[:n] + per_view[n:])).mean(), hits


class TestSimCSECall(TestCase):
    def test_call_on_token_ids_and_raw_strings(
        self, text_preprocessor, wordnet_texts, wordnet_ids
    ):
        model = tiny_simcse(text_preprocessor)
        from_ids = model(wordnet_ids[:4])
        assert tuple(from_ids.shape) == (4, HIDDEN)
        self.assert_allclose(from_ids, model(strings(wordnet_texts[:4])))
        # Inference has no dropout: the encoder's pooled output, every time.
        self.assert_allclose(from_ids, model(wordnet_ids[:4]))
        pooled = model.encoder(wordnet_ids[:4], training=False)["pooled_output"]
        self.assert_allclose(from_ids, pooled)

    def test_views_differ_by_dropout_only(self, text_preprocessor, wordnet_ids):
        z_1, z_2 = tiny_simcse(text_preprocessor).encode_views(wordnet_ids[:4])
        assert tuple(z_1.shape) == (4, HIDDEN)
        assert not np.allclose(np.asarray(z_1), np.asarray(z_2))
        model = tiny_simcse(text_preprocessor, dropout=0.0)
        z_1, z_2 = model.encode_views(wordnet_ids[:4])
        self.assert_allclose(z_1, z_2)
        self.assert_allclose(z_1, model(wordnet_ids[:4]), atol=1e-5)

    def test_warns_without_dropout(self, text_preprocessor):
        keras.utils.set_random_seed(0)
        assert not has_dropout(tiny_encoder(text_preprocessor, dropout=0.0))
        with pytest.warns(UserWarning, match="dropout"):
            SimCSE(tiny_encoder(text_preprocessor, dropout=0.0), text_preprocessor)
        encoder = tiny_encoder(text_preprocessor, dropout=0.1)
        assert has_dropout(encoder)
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            SimCSE(encoder, text_preprocessor)

    def test_projection_head_is_training_only(self, text_preprocessor, wordnet_ids):
        model = tiny_simcse(text_preprocessor, projection_dim=4)
        assert len(model.trainable_variables) == len(
            model.encoder.trainable_variables
        ) + len(model.projection.trainable_variables)
        assert tuple(model(wordnet_ids[:2]).shape) == (2, HIDDEN)
        z_1, _ = model.encode_views(wordnet_ids[:2])
        assert tuple(z_1.shape) == (2, 4)

    @pytest.mark.parametrize("temperature", [0, -0.05, None, "0.05"])
    def test_bad_temperature_raises(self, text_preprocessor, temperature):
        with pytest.raises(ValueError, match="temperature"):
            tiny_simcse(text_preprocessor, temperature=temperature)

    @pytest.mark.parametrize("projection_dim", [0, -4, 2.5, True])
    def test_bad_projection_dim_raises(self, text_preprocessor, projection_dim):
        with pytest.raises(ValueError, match="projection_dim"):
            tiny_simcse(text_preprocessor, projection_dim=projection_dim)

    @pytest.mark.parametrize("bad", [None, "vocab", keras.layers.Identity()])
    def test_preprocessor_wrong_type_raises(self, text_preprocessor, bad):
        with pytest.raises(ValueError, match="preprocessor"):
            SimCSE(tiny_encoder(text_preprocessor), bad)

    def test_encoder_not_a_model_raises(self, text_preprocessor):
        with pytest.raises(ValueError, match="keras.Model"):
            SimCSE(keras.layers.Dense(4), text_preprocessor)

    def test_encoder_without_dict_outputs_raises(self, text_preprocessor):
        with pytest.raises(ValueError, match="sequence_output"):
            SimCSE(conv_encoder((8, 8, 1), widths=(4,)), text_preprocessor)

    def test_wrong_rank_token_ids_raise(self, text_preprocessor, wordnet_ids):
        with pytest.raises(ValueError, match="shape"):
            tiny_simcse(text_preprocessor)(wordnet_ids[:2, None, :])


class TestSimCSEObjective(TestCase):
    def test_pair_objective_matches_numpy(self, text_preprocessor):
        model = tiny_simcse(text_preprocessor, temperature=0.5)
        rng = np.random.default_rng(0)
        z_1 = rng.normal(size=(6, 4)).astype("float32")
        z_2 = (z_1 + 0.5 * rng.normal(size=(6, 4))).astype("float32")
        loss_sum, count, out = model.pair_objective(z_1, z_2)
        expected, hits = np_nt_xent(z_1, z_2, 0.5)
        assert int(count) == 6
        np.testing.assert_allclose(float(loss_sum) / 6, expected, rtol=1e-5)
        np.testing.assert_array_equal(np.asarray(out["correct"]), hits)

    @pytest.mark.parametrize("projection_dim", [None, 4])
    def test_objective_without_dropout_matches_numpy(
        self, text_preprocessor, wordnet_ids, projection_dim
    ):
        # No dropout: both views are the pooled output (projected, if any).
        model = tiny_simcse(
            text_preprocessor, dropout=0.0, projection_dim=projection_dim
        )
        ids = wordnet_ids[:8]
        loss_sum, count, out = model.compute_objective(ids)
        z = np.asarray(model(ids))
        if projection_dim:
            dense = model.projection
            z = np.tanh(z @ np.asarray(dense.kernel) + np.asarray(dense.bias))
        expected, hits = np_nt_xent(z, z, model.temperature)
        np.testing.assert_allclose(float(loss_sum) / int(count), expected, rtol=1e-4)
        np.testing.assert_array_equal(np.asarray(out["correct"]), hits)


class TestSimCSETraining(TestCase):
    def test_fit_on_token_ids(self, text_preprocessor, wordnet_ids):
        model = tiny_simcse(text_preprocessor)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        history = model.fit(wordnet_ids, batch_size=16, epochs=6, verbose=0)
        assert set(history.history) == METRICS
        losses = np.array(history.history["loss"])
        assert np.isfinite(losses).all()
        assert losses[-2:].mean() < losses[:2].mean(), losses
        assert 0.0 <= history.history["contrastive_accuracy"][-1] <= 1.0
        scores = model.evaluate(wordnet_ids, batch_size=32, verbose=0, return_dict=True)
        assert set(scores) == METRICS
        assert np.isfinite(scores["loss"])

    def test_fit_on_raw_strings(self, text_preprocessor, wordnet_texts):
        model = tiny_simcse(text_preprocessor, projection_dim=8)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        ds = tf.data.Dataset.from_tensor_slices(wordnet_texts[:32].astype(str))
        history = model.fit(ds.batch(16), epochs=1, shuffle=False, verbose=0)
        assert set(history.history) == METRICS
        assert np.isfinite(history.history["loss"]).all()

    def test_fit_without_dropout_still_runs(self, text_preprocessor, wordnet_ids):
        model = tiny_simcse(text_preprocessor, dropout=0.0)
        model.compile(optimizer="sgd")
        history = model.fit(wordnet_ids[:16], batch_size=8, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
        # Identical views of distinct sentences: the positive is always found.
        assert history.history["contrastive_accuracy"] == [1.0]


class TestSimCSESaving(TestCase):
    def test_config_round_trip(self, text_preprocessor):
        model = tiny_simcse(text_preprocessor, temperature=0.1, projection_dim=4)
        restored = self.assert_serialization_round_trip(model)
        assert (restored.temperature, restored.projection_dim) == (0.1, 4)
        assert restored.preprocessor.vocabulary == text_preprocessor.vocabulary

    def test_keras_round_trip(
        self, text_preprocessor, wordnet_texts, wordnet_ids, tmp_path
    ):
        model = tiny_simcse(text_preprocessor, projection_dim=4)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model.fit(wordnet_ids[:16], batch_size=8, epochs=1, verbose=0)
        restored = self.assert_keras_round_trip(model, wordnet_ids[:4], tmp_path)
        self.assert_allclose(
            restored(strings(wordnet_texts[:4])), model(strings(wordnet_texts[:4]))
        )
        assert len(restored.weights) == len(model.weights)
        for a, b in zip(model.weights, restored.weights):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b))
        assert int(restored.optimizer.iterations) == 2
        history = restored.fit(wordnet_ids[:16], batch_size=8, verbose=0)
        assert set(history.history) == METRICS


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json
    import os
    import warnings

    os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )

    import keras
    import numpy as np

    from keras_ssl.encoders import transformer_encoder
    from keras_ssl.models.simcse import SimCSE
    from keras_ssl.tokenizers import TextPreprocessor
    from keras_ssl.tokenizers.special_tokens import SPECIAL_TOKENS

    warnings.simplefilter("ignore", UserWarning)
    pre = TextPreprocessor(
        list(SPECIAL_TOKENS) + [f"w{i}" for i in range(40)], sequence_length=8
    )
    ids = np.random.default_rng(0).integers(5, 45, size=(16, 8)).astype("int32")
    ids[:, 0], ids[:, -1] = pre.cls_id, pre.sep_id


    def run():
        keras.utils.set_random_seed(0)
        encoder = transformer_encoder(
            pre.vocabulary_size, 8, hidden_dim=8, num_layers=1, num_heads=2,
            intermediate_dim=16, dropout=0.0,
        )
        model = SimCSE(encoder, pre, temperature=0.5, projection_dim=4)
        model.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=False)
        history = model.fit(ids, batch_size=16, epochs=1, shuffle=False, verbose=0)
        weights = [keras.ops.convert_to_numpy(w) for w in model.weights]
        return history.history, weights


    single_history, single = run()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        multi_history, multi = run()
    print("RESULTS " + json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "single": single_history,
        "multi": multi_history,
        "diff": max(float(np.abs(a - b).max()) for a, b in zip(single, multi)),
    }))
    """
)


@pytest.mark.slow
def test_two_replicas_match_one_device(tmp_path):
    # Negatives come from the whole global batch (gather_from_replicas):
    # one step on two replicas equals one step on one device.
    script = tmp_path / "simcse_mirrored.py"
    script.write_text(MIRRORED_SCRIPT)
    env = dict(os.environ, KERAS_BACKEND="tensorflow", CUDA_VISIBLE_DEVICES="")
    run = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULTS ")]
    assert run.returncode == 0 and lines, run.stderr[-4000:]
    results = json.loads(lines[-1][len("RESULTS ") :])
    assert results["replicas"] == 2
    for name in METRICS:
        np.testing.assert_allclose(
            results["multi"][name], results["single"][name], rtol=1e-5
        )
    assert results["diff"] < 1e-5, results


class TestSimCSEWithTokenAugmenter(TestCase):
    def _deletion(self, preprocessor):
        from keras_ssl.augmentation import RandomTokenDeletion

        return RandomTokenDeletion(
            0.3,
            pad_token_id=preprocessor.pad_id,
            special_token_ids=[preprocessor.cls_id, preprocessor.sep_id],
            seed=3,
        )

    def test_views_differ_without_dropout(self, text_preprocessor, wordnet_ids):
        model = tiny_simcse(
            text_preprocessor,
            dropout=0.0,
            augmenter=self._deletion(text_preprocessor),
        )
        z_1, z_2 = model.encode_views(wordnet_ids[:8])
        assert not np.allclose(np.asarray(z_1), np.asarray(z_2))
        # Inference embeds the untouched sentence.
        plain = tiny_simcse(text_preprocessor, dropout=0.0)
        plain.set_weights(model.get_weights())
        self.assert_allclose(model(wordnet_ids[:4]), plain(wordnet_ids[:4]))

    def test_fit_and_keras_round_trip(self, text_preprocessor, wordnet_ids, tmp_path):
        model = tiny_simcse(
            text_preprocessor, augmenter=self._deletion(text_preprocessor)
        )
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        history = model.fit(wordnet_ids[:16], batch_size=8, epochs=1, verbose=0)
        assert set(history.history) == METRICS
        restored = self.assert_keras_round_trip(model, wordnet_ids[:4], tmp_path)
        assert type(restored.augmenter).__name__ == "RandomTokenDeletion"
        assert restored.augmenter.rate == model.augmenter.rate

    def test_bad_augmenter_raises(self, text_preprocessor):
        with pytest.raises(ValueError, match="`augmenter`"):
            tiny_simcse(text_preprocessor, augmenter="deletion")

    def test_config_without_augmenter_key_loads(self, text_preprocessor):
        # Files saved before the argument existed have no `augmenter` key.
        config = tiny_simcse(text_preprocessor).get_config()
        del config["augmenter"]
        assert SimCSE.from_config(config).augmenter is None
