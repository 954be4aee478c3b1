import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.augmentation import TokenMasker
from keras_ssl.encoders import conv_encoder, transformer_encoder
from keras_ssl.models import MaskedLanguageModel
from keras_ssl.testing import TestCase

HIDDEN = 16


def tiny_mlm(preprocessor, seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    encoder = transformer_encoder(
        preprocessor.vocabulary_size,
        preprocessor.sequence_length,
        hidden_dim=HIDDEN,
        num_layers=1,
        num_heads=2,
        intermediate_dim=32,
        dropout=0.0,
    )
    return MaskedLanguageModel(encoder, preprocessor, seed=seed, **kwargs)


def strings(texts):
    return tf.constant(np.asarray(texts).astype(str))


class TestMaskedLanguageModelCall(TestCase):
    def test_call_on_token_ids_and_raw_strings(
        self, text_preprocessor, wordnet_texts, wordnet_ids
    ):
        model = tiny_mlm(text_preprocessor)
        from_ids = model(wordnet_ids[:4])
        from_text = model(strings(wordnet_texts[:4]))
        assert tuple(from_ids.shape) == (4, HIDDEN)
        assert tuple(from_text.shape) == (4, HIDDEN)
        self.assert_allclose(from_ids, from_text)
        pooled = model.encoder(wordnet_ids[:4], training=False)["pooled_output"]
        self.assert_allclose(from_ids, pooled)

    def test_predict_on_texts_and_ids(
        self, text_preprocessor, wordnet_texts, wordnet_ids
    ):
        model = tiny_mlm(text_preprocessor)
        # LabeledData texts are 1-D object arrays of str.
        from_texts = model.predict(wordnet_texts, batch_size=32, verbose=0)
        from_ids = model.predict(wordnet_ids, batch_size=32, verbose=0)
        assert from_texts.shape == (64, HIDDEN)
        np.testing.assert_allclose(from_texts, from_ids, atol=1e-5)

    def test_call_on_a_column_of_strings(self, text_preprocessor, wordnet_texts):
        model = tiny_mlm(text_preprocessor)
        column = strings(wordnet_texts[:3])[:, None]
        self.assert_allclose(model(column), model(strings(wordnet_texts[:3])))

    def test_encoder_is_a_keras_model(self, text_preprocessor):
        model = tiny_mlm(text_preprocessor)
        assert isinstance(model.encoder, keras.Model)
        assert isinstance(model.masker, TokenMasker)
        assert model.masker.mask_token_id == text_preprocessor.mask_id

    def test_variables_exist_before_compile(self, text_preprocessor):
        model = tiny_mlm(text_preprocessor)
        assert len(model.trainable_variables) > len(model.encoder.trainable_variables)

    def test_preprocessor_not_a_text_preprocessor_raises(self, text_preprocessor):
        encoder = tiny_mlm(text_preprocessor).encoder
        for bad in (None, keras.layers.Identity(), lambda texts: texts):
            with pytest.raises(ValueError, match="preprocessor"):
                MaskedLanguageModel(encoder, bad)

    def test_encoder_not_a_model_raises(self, text_preprocessor):
        with pytest.raises(ValueError, match="keras.Model"):
            MaskedLanguageModel(keras.layers.Dense(4), text_preprocessor)

    def test_encoder_without_sequence_output_raises(self, text_preprocessor):
        with pytest.raises(ValueError, match="sequence_output"):
            MaskedLanguageModel(conv_encoder((8, 8, 1), widths=(4,)), text_preprocessor)

    def test_subclassed_encoder_raises_value_error(self, text_preprocessor):
        # Not a functional model, so no `output` dict to check: the error
        # must be the documented ValueError (today the message itself reads
        # `encoder.output_shape` and raises AttributeError).
        class Encoder(keras.Model):
            def call(self, ids):
                return {"sequence_output": ids, "pooled_output": ids}

        with pytest.raises(ValueError, match="sequence_output"):
            MaskedLanguageModel(Encoder(), text_preprocessor)

    def test_tied_embeddings_need_a_token_embedding(self, text_preprocessor):
        ids = keras.Input((text_preprocessor.sequence_length,), dtype="int32")
        x = keras.layers.Embedding(text_preprocessor.vocabulary_size, 8)(ids)
        pooled = keras.layers.GlobalAveragePooling1D()(x)
        encoder = keras.Model(ids, {"sequence_output": x, "pooled_output": pooled})
        with pytest.raises(ValueError, match="tie_embeddings"):
            MaskedLanguageModel(encoder, text_preprocessor)
        model = MaskedLanguageModel(encoder, text_preprocessor, tie_embeddings=False)
        assert tuple(model(np.ones((2, 16), "int32")).shape) == (2, 8)

    @pytest.mark.parametrize("mask_rate", [0, 1, -0.1, 1.5])
    def test_bad_mask_rate_raises(self, text_preprocessor, mask_rate):
        with pytest.raises(ValueError, match="mask_rate"):
            tiny_mlm(text_preprocessor, mask_rate=mask_rate)

    def test_wrong_rank_token_ids_raise(self, text_preprocessor, wordnet_ids):
        model = tiny_mlm(text_preprocessor)
        with pytest.raises(ValueError, match="shape"):
            model(wordnet_ids[:2, None, :])


class TestMaskedLanguageModelTraining(TestCase):
    def test_fit_on_wordnet_token_ids(self, text_preprocessor, wordnet_ids):
        model = tiny_mlm(text_preprocessor)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        history = model.fit(wordnet_ids, batch_size=16, epochs=1, verbose=0)
        assert set(history.history) == {"loss", "mlm_accuracy"}
        loss = history.history["loss"][0]
        # Near chance at the start: about log(vocabulary_size).
        assert np.isfinite(loss)
        assert abs(loss - np.log(text_preprocessor.vocabulary_size)) < 1.5
        assert 0.0 <= history.history["mlm_accuracy"][0] <= 1.0
        scores = model.evaluate(wordnet_ids, batch_size=32, verbose=0, return_dict=True)
        assert set(scores) == {"loss", "mlm_accuracy"}

    def test_fit_on_raw_strings(self, text_preprocessor, wordnet_texts):
        model = tiny_mlm(text_preprocessor)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        ds = tf.data.Dataset.from_tensor_slices(wordnet_texts[:32].astype(str))
        history = model.fit(ds.batch(16), epochs=1, shuffle=False, verbose=0)
        assert set(history.history) == {"loss", "mlm_accuracy"}
        assert np.isfinite(history.history["loss"]).all()

    def test_overfits_a_fixed_batch(self, text_preprocessor, wordnet_ids):
        model = tiny_mlm(text_preprocessor)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        history = model.fit(wordnet_ids[:8], batch_size=8, epochs=30, verbose=0)
        losses = np.array(history.history["loss"])
        assert np.isfinite(losses).all()
        # Fresh masks every step: the loss falls from about log(vocabulary)
        # by well over half a nat in 30 steps.
        assert losses[-5:].mean() < losses[:5].mean() - 0.6, losses

    @pytest.mark.slow
    def test_fit_with_xla(self, text_preprocessor, wordnet_ids):
        model = tiny_mlm(text_preprocessor)
        model.compile(optimizer="adam", jit_compile=True)
        history = model.fit(wordnet_ids[:16], batch_size=8, verbose=0)
        assert np.isfinite(history.history["loss"]).all()

    def test_untied_head_trains_and_round_trips(
        self, text_preprocessor, wordnet_ids, tmp_path
    ):
        model = tiny_mlm(text_preprocessor, tie_embeddings=False)
        assert model.mlm_head.output_matrix is not None
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        history = model.fit(wordnet_ids[:16], batch_size=8, verbose=0)
        assert set(history.history) == {"loss", "mlm_accuracy"}
        restored = self.assert_keras_round_trip(model, wordnet_ids[:4], tmp_path)
        assert restored.tie_embeddings is False
        for a, b in zip(model.weights, restored.weights):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b))


class TestMaskedLanguageModelSaving(TestCase):
    def test_config_round_trip(self, text_preprocessor):
        model = tiny_mlm(text_preprocessor, mask_rate=0.2)
        restored = self.assert_serialization_round_trip(model)
        assert restored.mask_rate == 0.2
        assert restored.preprocessor.vocabulary == text_preprocessor.vocabulary

    def test_keras_round_trip(
        self, text_preprocessor, wordnet_texts, wordnet_ids, tmp_path
    ):
        model = tiny_mlm(text_preprocessor)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model.fit(wordnet_ids[:16], batch_size=8, epochs=1, verbose=0)
        restored = self.assert_keras_round_trip(model, wordnet_ids[:4], tmp_path)
        # Raw strings still work: the preprocessor travels with the model.
        self.assert_allclose(
            restored(strings(wordnet_texts[:4])), model(strings(wordnet_texts[:4]))
        )
        assert int(restored.optimizer.iterations) == 2
        for a, b in zip(model.optimizer.variables, restored.optimizer.variables):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b))
        history = restored.fit(wordnet_ids[:8], batch_size=8, verbose=0)
        assert set(history.history) == {"loss", "mlm_accuracy"}


NSP_KEYS = {"loss", "mlm_accuracy", "nsp_accuracy"}


def sentence_pairs(preprocessor, texts, n=32):
    """`n` (first, second) pairs of glosses, packed, with 0/1 labels."""
    first, second = texts[:n].astype(str), texts[n : 2 * n].astype(str)
    ids = preprocessor.pack_pair(first, second).numpy()
    labels = (np.arange(n) % 2).astype("int32")
    return first, second, ids, labels


def np_cross_entropy(logits, labels):
    logits = logits - logits.max(axis=-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    return -log_probs[np.arange(len(labels)), labels]


class TestNextSentencePrediction(TestCase):
    def test_off_by_default_keeps_config_variables_and_metrics(self, text_preprocessor):
        plain = tiny_mlm(text_preprocessor)
        assert plain.next_sentence_prediction is False
        assert "next_sentence_prediction" not in plain.get_config()
        assert [m.name for m in plain.metrics] == ["loss", "mlm_accuracy"]
        nsp = tiny_mlm(text_preprocessor, next_sentence_prediction=True)
        assert nsp.get_config()["next_sentence_prediction"] is True
        assert [m.name for m in nsp.metrics] == list(
            ["loss", "mlm_accuracy", "nsp_accuracy"]
        )
        # Pooler and classifier: two kernels and two biases.
        assert len(nsp.trainable_variables) == len(plain.trainable_variables) + 4

    def test_loss_is_mlm_mean_plus_nsp_cross_entropy(
        self, text_preprocessor, wordnet_texts
    ):
        _, _, ids, labels = sentence_pairs(text_preprocessor, wordnet_texts, 8)
        model = tiny_mlm(text_preprocessor, next_sentence_prediction=True)
        plain = tiny_mlm(text_preprocessor)
        plain.encoder.set_weights(model.encoder.get_weights())
        plain.mlm_head.set_weights(model.mlm_head.get_weights())
        loss, count, out = model.compute_objective(
            {"token_ids": ids, "next_sentence_label": labels}
        )
        assert count is None
        self.assert_allclose(loss, out["mlm_loss"] + out["nsp_loss"])
        # NSP: the head on [CLS] of the masked sequence, NumPy cross-entropy.
        sequence = model.encoder(out["masked_token_ids"])["sequence_output"]
        cls = np.asarray(sequence[:, 0])
        w1, b1 = (np.asarray(v) for v in model.nsp_pooler.weights)
        w2, b2 = (np.asarray(v) for v in model.nsp_classifier.weights)
        logits = np.tanh(cls @ w1 + b1) @ w2 + b2
        self.assert_allclose(out["nsp_logits"], logits, atol=1e-5)
        expected = np_cross_entropy(logits, labels).mean()
        self.assert_allclose(out["nsp_loss"], expected, atol=1e-5)
        # MLM: the same masks (same seed) give plain MLM's mean loss.
        loss_sum, tokens, _ = plain.compute_objective(ids)
        self.assert_allclose(out["mlm_loss"], loss_sum / tokens, atol=1e-5)

    def test_fit_reports_nsp_accuracy_and_learns(
        self, text_preprocessor, wordnet_texts
    ):
        _, _, ids, labels = sentence_pairs(text_preprocessor, wordnet_texts, 8)
        model = tiny_mlm(text_preprocessor, next_sentence_prediction=True)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        inputs = {"token_ids": ids, "next_sentence_label": labels}
        history = model.fit(inputs, batch_size=8, epochs=25, verbose=0)
        assert set(history.history) == NSP_KEYS
        assert np.isfinite(history.history["loss"]).all()
        # Near chance at first: log(vocabulary) for MLM plus log(2) for NSP.
        chance = np.log(text_preprocessor.vocabulary_size) + np.log(2)
        assert abs(history.history["loss"][0] - chance) < 1.5
        # A fixed batch of 8 pairs is learnt.
        assert np.mean(history.history["nsp_accuracy"][-5:]) >= 0.875
        # Labels may also come as `y`.
        scores = model.evaluate(ids, labels, verbose=0, return_dict=True)
        assert set(scores) == NSP_KEYS
        assert scores["nsp_accuracy"] >= 0.875

    def test_raw_sentence_pairs(self, text_preprocessor, wordnet_texts):
        first, second, ids, labels = sentence_pairs(text_preprocessor, wordnet_texts)
        raw = {"first": strings(first), "second": strings(second)}
        model = tiny_mlm(text_preprocessor, next_sentence_prediction=True)
        twin = tiny_mlm(text_preprocessor, next_sentence_prediction=True)
        twin.set_weights(model.get_weights())
        # Packed in the graph: the same embedding and (same seed, same
        # masks) the same loss as the packed ids.
        self.assert_allclose(model(raw), model(ids), atol=1e-5)
        from_raw, _, _ = model.compute_objective({**raw, "next_sentence_label": labels})
        from_ids, _, _ = twin.compute_objective(
            {"token_ids": ids, "next_sentence_label": labels}
        )
        self.assert_allclose(from_raw, from_ids, atol=1e-5)
        ds = tf.data.Dataset.from_tensor_slices(
            {"first": first, "second": second, "next_sentence_label": labels}
        )
        batch = next(iter(ds.batch(8)))
        assert np.isfinite(float(model.compute_objective(batch)[0]))

    def test_missing_labels_raise(self, text_preprocessor, wordnet_texts):
        _, _, ids, _ = sentence_pairs(text_preprocessor, wordnet_texts, 8)
        model = tiny_mlm(text_preprocessor, next_sentence_prediction=True)
        model.compile(optimizer="adam")
        with pytest.raises(ValueError, match="next_sentence_label"):
            model.fit(ids, batch_size=8, verbose=0)
        with pytest.raises(ValueError, match=r"next_sentence_label.*'token_ids'"):
            model.compute_objective({"token_ids": ids})
        # Inference needs no labels.
        assert tuple(model(ids).shape) == (8, HIDDEN)

    def test_bad_labels_raise(self, text_preprocessor, wordnet_texts):
        _, _, ids, labels = sentence_pairs(text_preprocessor, wordnet_texts, 8)
        model = tiny_mlm(text_preprocessor, next_sentence_prediction=True)
        with pytest.raises(ValueError, match="shape"):
            model.compute_objective(
                {"token_ids": ids, "next_sentence_label": np.ones((8, 2))}
            )
        with pytest.raises(ValueError, match="0/1"):
            model.compute_objective(
                {"token_ids": ids, "next_sentence_label": strings(["1"] * 8)}
            )
        # A (batch, 1) column is fine.
        loss, _, _ = model.compute_objective(
            {"token_ids": ids, "next_sentence_label": labels[:, None]}
        )
        assert np.isfinite(float(loss))

    def test_unpacked_strings_with_nsp_raise(self, text_preprocessor, wordnet_texts):
        model = tiny_mlm(text_preprocessor, next_sentence_prediction=True)
        inputs = {
            "token_ids": strings(wordnet_texts[:4]),
            "next_sentence_label": np.ones(4, "int32"),
        }
        with pytest.raises(ValueError, match="`first` and `second`"):
            model.compute_objective(inputs)

    def test_unknown_dict_keys_raise(self, text_preprocessor, wordnet_texts):
        model = tiny_mlm(text_preprocessor)
        with pytest.raises(ValueError, match=r"token_ids.*\['text'\]"):
            model({"text": strings(wordnet_texts[:2])})

    @pytest.mark.parametrize("flag", ["yes", 1, None])
    def test_bad_flag_raises(self, text_preprocessor, flag):
        with pytest.raises(ValueError, match="next_sentence_prediction"):
            tiny_mlm(text_preprocessor, next_sentence_prediction=flag)

    def test_keras_round_trip(self, text_preprocessor, wordnet_texts, tmp_path):
        _, _, ids, labels = sentence_pairs(text_preprocessor, wordnet_texts, 8)
        model = tiny_mlm(text_preprocessor, next_sentence_prediction=True)
        restored = self.assert_keras_round_trip(model, ids[:4], tmp_path)
        assert restored.next_sentence_prediction is True
        assert len(restored.weights) == len(model.weights)
        for a, b in zip(model.weights, restored.weights):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b))
        np.testing.assert_allclose(
            np.asarray(restored.nsp_classifier.kernel),
            np.asarray(model.nsp_classifier.kernel),
        )
        inputs = {"token_ids": ids, "next_sentence_label": labels}
        _, _, out = restored.compute_objective(inputs)
        _, _, expected = model.compute_objective(inputs)
        self.assert_allclose(out["nsp_loss"], expected["nsp_loss"], atol=1e-5)
        self.assert_serialization_round_trip(model)
