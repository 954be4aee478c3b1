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
