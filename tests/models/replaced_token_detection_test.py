import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.encoders import conv_encoder, transformer_encoder
from keras_ssl.models.replaced_token_detection import ReplacedTokenDetection
from keras_ssl.testing import TestCase

HIDDEN = 16
METRICS = {"loss", "mlm_accuracy", "rtd_accuracy", "replaced_fraction"}


def tiny_encoder(preprocessor, hidden_dim=HIDDEN, num_heads=2, name="encoder"):
    return transformer_encoder(
        preprocessor.vocabulary_size,
        preprocessor.sequence_length,
        hidden_dim=hidden_dim,
        num_layers=1,
        num_heads=num_heads,
        intermediate_dim=2 * hidden_dim,
        dropout=0.0,
        name=name,
    )


def tiny_rtd(preprocessor, seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    encoder = tiny_encoder(preprocessor)
    return ReplacedTokenDetection(encoder, preprocessor, seed=seed, **kwargs)


def strings(texts):
    return tf.constant(np.asarray(texts).astype(str))


def np_log_softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def np_bce_from_logits(labels, logits):
    probs = 1.0 / (1.0 + np.exp(-logits.astype("float64")))
    return -(labels * np.log(probs) + (1 - labels) * np.log(1 - probs))


def transformer_blocks(model):
    return [
        layer
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, keras_hub.layers.TransformerEncoder)
    ]


class TestReplacedTokenDetectionCall(TestCase):
    def test_call_on_token_ids_and_raw_strings(
        self, text_preprocessor, wordnet_texts, wordnet_ids
    ):
        model = tiny_rtd(text_preprocessor)
        from_ids = model(wordnet_ids[:4])
        from_text = model(strings(wordnet_texts[:4]))
        assert tuple(from_ids.shape) == (4, HIDDEN)
        self.assert_allclose(from_ids, from_text)
        pooled = model.encoder(wordnet_ids[:4], training=False)["pooled_output"]
        self.assert_allclose(from_ids, pooled)

    def test_default_generator_is_a_smaller_tied_mlm(self, text_preprocessor):
        model = tiny_rtd(text_preprocessor)
        generator = model.generator
        assert isinstance(generator, keras.Model) and generator is not model.encoder
        assert generator.output["sequence_output"].shape[-1] == HIDDEN // 2
        (block,) = transformer_blocks(generator)
        assert (block.num_heads, block.intermediate_dim) == (2, HIDDEN)
        assert model.mlm_head.tied and model.mlm_head.output_matrix is None
        assert model.masker.mask_token_rate == 1.0
        assert model.masker.random_token_rate == 0.0
        # Generator, MLM head and discriminator head all hold weights.
        assert len(model.trainable_variables) > len(
            model.encoder.trainable_variables
        ) + len(generator.trainable_variables)

    def test_default_generator_width_is_a_multiple_of_the_heads(
        self, text_preprocessor
    ):
        encoder = tiny_encoder(text_preprocessor, hidden_dim=12, num_heads=4)
        model = ReplacedTokenDetection(encoder, text_preprocessor)
        assert model.generator.output["sequence_output"].shape[-1] == 4

    def test_custom_untied_generator(self, text_preprocessor, wordnet_ids):
        # A generator without a keras-hub TokenAndPositionEmbedding gets an
        # MLM head with its own output matrix.
        ids = keras.Input((text_preprocessor.sequence_length,), dtype="int32")
        x = keras.layers.Embedding(text_preprocessor.vocabulary_size, 4)(ids)
        pooled = keras.layers.GlobalAveragePooling1D()(x)
        generator = keras.Model(ids, {"sequence_output": x, "pooled_output": pooled})
        keras.utils.set_random_seed(0)
        model = ReplacedTokenDetection(
            tiny_encoder(text_preprocessor), text_preprocessor, generator=generator
        )
        assert model.generator is generator
        assert model.mlm_head.output_matrix is not None
        loss, count, _ = model.compute_objective(wordnet_ids[:4])
        assert count is None and np.isfinite(float(loss))

    def test_wrong_rank_token_ids_raise(self, text_preprocessor, wordnet_ids):
        with pytest.raises(ValueError, match="shape"):
            tiny_rtd(text_preprocessor)(wordnet_ids[:2, None, :])


class TestReplacedTokenDetectionArguments:
    @pytest.mark.parametrize("bad", [None, "vocab", keras.layers.Identity()])
    def test_preprocessor_wrong_type_raises(self, text_preprocessor, bad):
        with pytest.raises(ValueError, match="preprocessor"):
            ReplacedTokenDetection(tiny_encoder(text_preprocessor), bad)

    def test_encoder_not_a_model_raises(self, text_preprocessor):
        with pytest.raises(ValueError, match="keras.Model"):
            ReplacedTokenDetection(keras.layers.Dense(4), text_preprocessor)

    def test_encoder_without_dict_outputs_raises(self, text_preprocessor):
        with pytest.raises(ValueError, match="sequence_output"):
            ReplacedTokenDetection(
                conv_encoder((8, 8, 1), widths=(4,)), text_preprocessor
            )

    def test_subclassed_encoder_raises_value_error(self, text_preprocessor):
        class Encoder(keras.Model):
            def call(self, ids):
                return {"sequence_output": ids, "pooled_output": ids}

        with pytest.raises(ValueError, match="sequence_output"):
            ReplacedTokenDetection(Encoder(), text_preprocessor)

    def test_bad_generator_raises(self, text_preprocessor):
        encoder = tiny_encoder(text_preprocessor)
        with pytest.raises(ValueError, match="generator"):
            ReplacedTokenDetection(
                encoder, text_preprocessor, generator=keras.layers.Dense(4)
            )
        with pytest.raises(ValueError, match="generator"):
            ReplacedTokenDetection(
                encoder,
                text_preprocessor,
                generator=conv_encoder((8, 8, 1), widths=(4,)),
            )
        with pytest.raises(ValueError, match="generator"):
            ReplacedTokenDetection(encoder, text_preprocessor, generator=encoder)

    def test_generator_over_another_vocabulary_raises(self, text_preprocessor):
        generator = transformer_encoder(
            text_preprocessor.vocabulary_size + 5,
            text_preprocessor.sequence_length,
            hidden_dim=4,
            num_layers=1,
            num_heads=1,
            intermediate_dim=8,
        )
        with pytest.raises(ValueError, match="vocabulary"):
            ReplacedTokenDetection(
                tiny_encoder(text_preprocessor), text_preprocessor, generator
            )

    @pytest.mark.parametrize("mask_rate", [0, 1, -0.1, 1.5, None])
    def test_bad_mask_rate_raises(self, text_preprocessor, mask_rate):
        with pytest.raises(ValueError, match="mask_rate"):
            tiny_rtd(text_preprocessor, mask_rate=mask_rate)

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"generator_weight": -1.0},
            {"generator_weight": None},
            {"generator_weight": True},
            {"discriminator_weight": -50.0},
            {"discriminator_weight": 0.0},
            {"discriminator_weight": "50"},
        ],
    )
    def test_bad_weights_raise(self, text_preprocessor, kwargs):
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            tiny_rtd(text_preprocessor, **kwargs)


class TestReplacedTokenDetectionObjective(TestCase):
    def test_replaced_labels_are_exactly_the_changed_real_tokens(
        self, text_preprocessor, wordnet_ids
    ):
        pre = text_preprocessor
        model = tiny_rtd(pre)
        ids = wordnet_ids[:16].copy()
        ids[:4, 6:] = pre.pad_id  # some padding too
        ids[:4, 5] = pre.sep_id
        out = keras.tree.map_structure(np.asarray, model.corrupt(ids))
        corrupted, masked = out["corrupted_ids"], out["masked"]
        np.testing.assert_array_equal(out["is_replaced"], corrupted != ids)
        np.testing.assert_array_equal(out["real_weights"], ids != pre.pad_id)

        chosen = np.zeros_like(ids, dtype=bool)
        for row, positions, weights in zip(
            chosen, masked["mask_positions"], masked["mask_weights"]
        ):
            row[positions[weights > 0]] = True
        # Only masked tokens change; the rest is the original sequence.
        np.testing.assert_array_equal(corrupted[~chosen], ids[~chosen])
        # Masking is [MASK] only; the samples never bring special tokens (so
        # no padding appears inside a sequence).
        assert (masked["token_ids"][chosen] == pre.mask_id).all()
        assert not np.isin(corrupted[chosen], pre.special_ids).any()
        assert not np.isin(ids[chosen], pre.special_ids).any()
        assert out["is_replaced"].sum() > 0
        assert tuple(out["mlm_logits"].shape) == (
            16,
            model.masker.max_predictions,
            pre.vocabulary_size,
        )

    def test_sample_equal_to_original_counts_as_original(
        self, text_preprocessor, wordnet_ids
    ):
        pre = text_preprocessor
        model = tiny_rtd(pre)
        token = pre.special_ids[-1] + 1  # a regular token
        bias = np.zeros(pre.vocabulary_size, "float32")
        bias[token] = 1e4
        model.mlm_head.output_bias.assign(bias)  # the generator always says `token`
        ids = wordnet_ids[:8].copy()
        ids[:4, 1:-1] = token
        out = keras.tree.map_structure(np.asarray, model.corrupt(ids))
        masked = out["masked"]
        assert (masked["mask_weights"].sum(axis=1) > 0).all()
        # Rows made of `token` only: every sample equals the original.
        np.testing.assert_array_equal(out["corrupted_ids"][:4], ids[:4])
        assert out["is_replaced"][:4].sum() == 0
        # Elsewhere exactly the masked positions whose original differs.
        expected = np.zeros_like(ids, dtype=bool)
        for i in range(4, 8):
            for p, w in zip(masked["mask_positions"][i], masked["mask_weights"][i]):
                expected[i, p] = w > 0 and ids[i, p] != token
        np.testing.assert_array_equal(out["is_replaced"], expected)

    def test_loss_matches_numpy(self, text_preprocessor, wordnet_ids):
        model = tiny_rtd(
            text_preprocessor, generator_weight=0.7, discriminator_weight=3.0
        )
        ids = wordnet_ids[:8].copy()
        ids[:2, 9:] = text_preprocessor.pad_id
        loss, count, out = model.compute_objective(ids)
        assert count is None
        out = keras.tree.map_structure(np.asarray, out)

        w = out["mask_weights"]
        log_probs = np_log_softmax(out["mlm_logits"].astype("float64"))
        mlm = -np.take_along_axis(log_probs, out["mask_ids"][..., None], -1)[..., 0]
        mlm_mean = (mlm * w).sum() / w.sum()

        real = out["real_weights"]
        np.testing.assert_array_equal(real, ids != text_preprocessor.pad_id)
        bce = np_bce_from_logits(out["is_replaced"], out["rtd_logits"])
        bce_mean = (bce * real).sum() / real.sum()
        np.testing.assert_allclose(
            float(loss), 0.7 * mlm_mean + 3.0 * bce_mean, rtol=1e-5
        )
        np.testing.assert_array_equal(
            out["rtd_correct"], (out["rtd_logits"] > 0) == out["is_replaced"]
        )

    def test_no_gradient_through_the_sample(self, text_preprocessor, wordnet_ids):
        # With generator_weight=0 only the discriminator loss remains: the
        # generator and its head get no gradient through the sampled ids.
        model = tiny_rtd(text_preprocessor, generator_weight=0.0)
        with tf.GradientTape() as tape:
            loss, _, _ = model.compute_objective(wordnet_ids[:8], training=True)
        generator_vars = [
            *model.generator.trainable_variables,
            *model.mlm_head.trainable_variables,
        ]
        grads = tape.gradient(loss, [*generator_vars, *model.encoder.weights])
        # The MLM term is still in the graph, weighted by 0: zero gradients.
        for g in grads[: len(generator_vars)]:
            assert g is None or not np.asarray(g).any()
        assert any(np.asarray(g).any() for g in grads[len(generator_vars) :])


class TestReplacedTokenDetectionTraining(TestCase):
    def test_fit_on_token_ids(self, text_preprocessor, wordnet_ids):
        model = tiny_rtd(text_preprocessor)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        history = model.fit(wordnet_ids, batch_size=16, epochs=4, verbose=0)
        h = history.history
        assert set(h) == METRICS
        losses = np.array(h["loss"])
        assert np.isfinite(losses).all()
        # At the start about 50 * log(2) + log(vocabulary); the discriminator
        # soon learns that most tokens are original.
        assert losses[-1] < losses[0] - 5.0, losses
        assert 0.0 < h["replaced_fraction"][-1] <= model.mask_rate + 0.05
        assert h["rtd_accuracy"][-1] > 0.8
        assert 0.0 <= h["mlm_accuracy"][-1] <= 1.0
        scores = model.evaluate(wordnet_ids, batch_size=32, verbose=0, return_dict=True)
        assert set(scores) == METRICS

    @pytest.mark.slow
    def test_fit_with_xla(self, text_preprocessor, wordnet_ids):
        model = tiny_rtd(text_preprocessor)
        model.compile(optimizer="adam", jit_compile=True)
        history = model.fit(wordnet_ids[:16], batch_size=8, verbose=0)
        assert np.isfinite(history.history["loss"]).all()


class TestReplacedTokenDetectionSaving(TestCase):
    def test_config_round_trip(self, text_preprocessor):
        model = tiny_rtd(
            text_preprocessor,
            mask_rate=0.2,
            generator_weight=2.0,
            discriminator_weight=10.0,
        )
        restored = self.assert_serialization_round_trip(model)
        assert restored.mask_rate == 0.2
        assert (restored.generator_weight, restored.discriminator_weight) == (
            2.0,
            10.0,
        )
        assert restored.preprocessor.vocabulary == text_preprocessor.vocabulary
        assert restored.generator.output["sequence_output"].shape[-1] == HIDDEN // 2

    def test_keras_round_trip(
        self, text_preprocessor, wordnet_texts, wordnet_ids, tmp_path
    ):
        model = tiny_rtd(text_preprocessor)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        # Trained from raw strings in tf.data.
        ds = tf.data.Dataset.from_tensor_slices(wordnet_texts[:16].astype(str))
        history = model.fit(ds.batch(8), epochs=1, shuffle=False, verbose=0)
        assert set(history.history) == METRICS
        assert np.isfinite(history.history["loss"]).all()
        restored = self.assert_keras_round_trip(model, wordnet_ids[:4], tmp_path)
        self.assert_allclose(
            restored(strings(wordnet_texts[:4])), model(strings(wordnet_texts[:4]))
        )
        # The generator and both heads are saved too, with the optimizer.
        assert len(restored.weights) == len(model.weights)
        for a, b in zip(model.weights, restored.weights):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b))
        assert int(restored.optimizer.iterations) == 2
        for a, b in zip(model.optimizer.variables, restored.optimizer.variables):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b))
