import json
import os
import subprocess
import sys
import textwrap

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.encoders.conv_encoder import conv_encoder
from keras_ssl.encoders.transformer_decoder import transformer_decoder
from keras_ssl.metrics.perplexity import Perplexity, perplexity
from keras_ssl.models.causal_language_model import CausalLanguageModel
from keras_ssl.testing import TestCase
from keras_ssl.tokenizers.special_tokens import SPECIAL_TOKENS
from keras_ssl.tokenizers.text_preprocessor import TextPreprocessor

HIDDEN = 16
LENGTH = 12
WORDS = "the cat sat on mat a dog ran in park big small red blue".split()
SENTENCE = "the cat sat on the mat"
CORPUS = [
    SENTENCE,
    "a dog ran in the park",
    "the big red dog sat on a mat",
    "a small blue cat ran",
]


@pytest.fixture(scope="module")
def preprocessor():
    return TextPreprocessor(list(SPECIAL_TOKENS) + WORDS, sequence_length=LENGTH)


def tiny_clm(preprocessor, seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    decoder = transformer_decoder(
        preprocessor.vocabulary_size,
        preprocessor.sequence_length,
        hidden_dim=HIDDEN,
        num_layers=1,
        num_heads=2,
        intermediate_dim=32,
        dropout=0.0,
        pad_token_id=preprocessor.pad_id,
    )
    return CausalLanguageModel(decoder, preprocessor, **kwargs)


def token_ids(preprocessor, texts):
    return preprocessor(tf.constant(texts)).numpy()


def reference_token_nll(logits, ids, pad_id):
    """NumPy cross-entropy of token t+1 under the logits at t, and weights."""
    logits = np.asarray(logits, np.float64)[:, :-1]
    targets = ids[:, 1:]
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
    return nll, (targets != pad_id).astype(np.float64)


@pytest.fixture(scope="module")
def trained(preprocessor):
    """A tiny model overfit on one sentence (greedy generation repeats it)."""
    model = tiny_clm(preprocessor)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    ids = token_ids(preprocessor, [SENTENCE] * 8)
    model.fit(ids, batch_size=8, epochs=40, verbose=0)
    return model


class TestTransformerDecoder(TestCase):
    def test_outputs(self, preprocessor):
        decoder = tiny_clm(preprocessor).decoder
        ids = token_ids(preprocessor, CORPUS)
        out = decoder(ids)
        assert tuple(out["sequence_output"].shape) == (4, LENGTH, HIDDEN)
        assert tuple(out["pooled_output"].shape) == (4, HIDDEN)
        # The pooled output is the mean over the non-padding positions.
        mask = (ids != preprocessor.pad_id)[..., None]
        expected = (out["sequence_output"].numpy() * mask).sum(1) / mask.sum(1)
        self.assert_allclose(out["pooled_output"], expected, atol=1e-5)

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"vocabulary_size": 0},
            {"sequence_length": 0},
            {"hidden_dim": 6, "num_heads": 4},
            {"num_layers": 0},
            {"intermediate_dim": 2.5},
            {"dropout": 1.0},
            {"dropout": -0.1},
            {"pad_token_id": 30},
            {"num_heads": True},
        ],
    )
    def test_bad_arguments_raise(self, kwargs):
        args = {"vocabulary_size": 20, "sequence_length": 8, "hidden_dim": 8}
        args.update(kwargs)
        with pytest.raises(ValueError, match="Argument"):
            transformer_decoder(**args)


class TestCausalLanguageModelCall(TestCase):
    def test_call_returns_pooled_output_for_ids_and_strings(self, preprocessor):
        model = tiny_clm(preprocessor)
        ids = token_ids(preprocessor, CORPUS)
        from_ids = model(ids)
        assert tuple(from_ids.shape) == (4, HIDDEN)
        self.assert_allclose(from_ids, model(tf.constant(CORPUS)))
        self.assert_allclose(from_ids, model(np.array(CORPUS, dtype=object)))
        predicted = model.predict(np.array(CORPUS, dtype=object), verbose=0)
        np.testing.assert_allclose(predicted, from_ids, atol=1e-5)
        self.assert_allclose(from_ids, model.decoder(ids)["pooled_output"])
        assert model.encoder is model.decoder

    def test_logits_shape(self, preprocessor):
        model = tiny_clm(preprocessor)
        logits = model.logits(token_ids(preprocessor, CORPUS))
        assert tuple(logits.shape) == (4, LENGTH, preprocessor.vocabulary_size)
        assert logits.dtype == "float32"
        # Also from raw strings, a single one included.
        self.assert_allclose(model.logits(CORPUS[0]), logits[:1], atol=1e-5)
        self.assert_allclose(model.logits(CORPUS), logits, atol=1e-5)

    @pytest.mark.parametrize("t", [0, 3, LENGTH - 2])
    def test_causal_mask(self, preprocessor, t):
        # Changing token t + 1 leaves the logits at positions <= t unchanged
        # (and does change the later ones).
        model = tiny_clm(preprocessor)
        ids = token_ids(preprocessor, ["the big red dog sat on a small blue mat"])
        assert (ids != preprocessor.pad_id).all()
        perturbed = ids.copy()
        perturbed[0, t + 1] = (ids[0, t + 1] + 1 - 5) % len(WORDS) + 5
        before = model.logits(ids).numpy()
        after = model.logits(perturbed).numpy()
        np.testing.assert_allclose(after[:, : t + 1], before[:, : t + 1], atol=1e-6)
        assert np.abs(after[:, t + 1 :] - before[:, t + 1 :]).max() > 1e-4

    def test_wrong_rank_token_ids_raise(self, preprocessor):
        model = tiny_clm(preprocessor)
        with pytest.raises(ValueError, match="shape"):
            model(token_ids(preprocessor, CORPUS)[:, None, :])


class TestCausalLanguageModelObjective(TestCase):
    def test_loss_matches_numpy_reference(self, preprocessor):
        model = tiny_clm(preprocessor)
        ids = token_ids(preprocessor, CORPUS)
        loss_sum, count, _ = model.compute_objective(ids)
        nll, weights = reference_token_nll(model.logits(ids), ids, 0)
        np.testing.assert_allclose(float(loss_sum), (nll * weights).sum(), rtol=1e-5)
        assert float(count) == weights.sum()
        # `evaluate` reports the mean token cross-entropy.
        model.compile(optimizer="adam")
        scores = model.evaluate(ids, batch_size=4, verbose=0, return_dict=True)
        np.testing.assert_allclose(
            scores["loss"], (nll * weights).sum() / weights.sum(), rtol=1e-5
        )

    def test_targets_are_tokens_after_cls_up_to_sep(self, preprocessor):
        model = tiny_clm(preprocessor)
        ids = token_ids(preprocessor, ["the cat", "a dog ran in the park"])
        _, count, outputs = model.compute_objective(ids)
        # [CLS] the cat [SEP]: 3 targets; [CLS] a dog ran in the park [SEP]: 7.
        assert float(count) == 10.0
        weights = outputs["weights"].numpy()
        expected = np.zeros((2, LENGTH - 1))
        expected[0, :3] = expected[1, :7] = 1.0
        np.testing.assert_array_equal(weights, expected)
        # The end token is a target; the start token and padding are not.
        targets = ids[:, 1:]
        assert (targets[weights == 1] == preprocessor.sep_id).sum() == 2
        assert not (targets[weights == 1] == preprocessor.pad_id).any()

    def test_padding_positions_do_not_count(self, preprocessor):
        model = tiny_clm(preprocessor)
        short = token_ids(preprocessor, ["the cat"])
        long = token_ids(preprocessor, ["a dog ran in the park"])
        both = np.concatenate([short, long])
        loss_both, count_both, _ = model.compute_objective(both)
        loss_short, count_short, _ = model.compute_objective(short)
        loss_long, count_long, _ = model.compute_objective(long)
        np.testing.assert_allclose(
            float(loss_both), float(loss_short) + float(loss_long), rtol=1e-5
        )
        assert float(count_both) == float(count_short) + float(count_long)
        # The padding targets have a positive cross-entropy, so counting them
        # would change the sum: it holds the real targets' terms only.
        nll, weights = reference_token_nll(model.logits(short), short, 0)
        assert weights.sum() == 3 and (nll[weights == 0] > 0).all()
        np.testing.assert_allclose(
            float(loss_short), nll[weights == 1].sum(), rtol=1e-5
        )

    def test_gradients_reach_every_weight(self, preprocessor):
        model = tiny_clm(preprocessor)
        ids = token_ids(preprocessor, CORPUS)
        with tf.GradientTape() as tape:
            loss_sum, _, _ = model.compute_objective(ids, training=True)
        grads = tape.gradient(loss_sum, model.trainable_variables)
        missing = [
            v.path for v, g in zip(model.trainable_variables, grads) if g is None
        ]
        assert not missing


class TestPerplexity(TestCase):
    def test_function(self):
        nll = np.array([[1.0, 3.0, 9.0]], "float32")
        value = perplexity(nll, sample_weight=[[1.0, 1.0, 0.0]])
        np.testing.assert_allclose(float(value), np.exp(2.0), rtol=1e-6)
        np.testing.assert_allclose(float(perplexity(nll)), np.exp(13 / 3), rtol=1e-5)
        assert float(perplexity(nll, sample_weight=np.zeros((1, 3)))) == 1.0

    def test_streams_over_batches(self):
        metric = Perplexity()
        assert metric.name == "perplexity"
        metric.update_state(np.array([[1.0, 3.0], [5.0, 7.0]]), [[1, 1], [1, 0]])
        metric.update_state(np.array([[2.0]]))
        # exp of the token mean over both batches, not a mean of perplexities.
        np.testing.assert_allclose(float(metric.result()), np.exp(11 / 4), rtol=1e-6)
        metric.reset_state()
        assert float(metric.result()) == 1.0
        restored = Perplexity.from_config(metric.get_config())
        assert restored.name == "perplexity"

    def test_model_metric_over_two_batches(self, preprocessor):
        model = tiny_clm(preprocessor)
        model.compile(optimizer="adam")
        # Two batches with different numbers of target tokens.
        ids = token_ids(preprocessor, ["the cat", "a dog", *CORPUS[1:3]])
        nll, weights = reference_token_nll(model.logits(ids), ids, 0)
        assert weights[:2].sum() != weights[2:].sum()
        scores = model.evaluate(ids, batch_size=2, verbose=0, return_dict=True)
        assert set(scores) == {"loss", "perplexity", "next_token_accuracy"}
        mean_nll = (nll * weights).sum() / weights.sum()
        np.testing.assert_allclose(scores["perplexity"], np.exp(mean_nll), rtol=1e-5)
        np.testing.assert_allclose(scores["loss"], mean_nll, rtol=1e-5)


class TestCausalLanguageModelTraining(TestCase):
    def test_fit_decreases_the_loss(self, preprocessor):
        model = tiny_clm(preprocessor)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        ids = token_ids(preprocessor, CORPUS * 2)
        history = model.fit(ids, batch_size=4, epochs=12, verbose=0).history
        assert set(history) == {"loss", "perplexity", "next_token_accuracy"}
        losses = np.array(history["loss"])
        assert np.isfinite(losses).all()
        # Starts near chance, log(vocabulary_size), and falls well below it.
        assert abs(losses[0] - np.log(preprocessor.vocabulary_size)) < 0.5
        assert losses[-1] < losses[0] - 1.0, losses
        # Both are means over the same tokens: perplexity = exp(loss).
        np.testing.assert_allclose(history["perplexity"], np.exp(losses), rtol=1e-4)
        assert history["next_token_accuracy"][-1] > history["next_token_accuracy"][0]

    def test_fit_on_raw_strings(self, preprocessor):
        model = tiny_clm(preprocessor)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        ds = tf.data.Dataset.from_tensor_slices(CORPUS).batch(2)
        history = model.fit(ds, epochs=1, shuffle=False, verbose=0).history
        assert set(history) == {"loss", "perplexity", "next_token_accuracy"}
        assert np.isfinite(history["loss"]).all()

    def test_untied_head(self, preprocessor, tmp_path):
        model = tiny_clm(preprocessor, tie_embeddings=False)
        assert model.lm_head.output_matrix is not None
        tied = tiny_clm(preprocessor)
        assert tied.lm_head.output_matrix is None
        assert len(model.trainable_variables) == len(tied.trainable_variables) + 1
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model.fit(token_ids(preprocessor, CORPUS), batch_size=4, verbose=0)
        ids = token_ids(preprocessor, CORPUS)
        restored = self.assert_keras_round_trip(model, ids, tmp_path)
        assert restored.tie_embeddings is False
        self.assert_allclose(restored.logits(ids), model.logits(ids), atol=1e-5)


class TestGenerate(TestCase):
    def test_greedy_reproduces_the_training_sentence_and_stops(self, trained):
        max_length = LENGTH
        outputs = trained.generate(["the cat", "the cat sat on the", ""], max_length)
        assert outputs == [SENTENCE] * 3
        # Stopped at [SEP], well before the token budget.
        n_tokens = len(SENTENCE.split()) + 1  # [CLS] included.
        assert n_tokens < max_length
        assert trained.generate("the", max_length=4) == ["the cat sat"]

    def test_stops_at_end_token_when_it_is_the_argmax(self, preprocessor):
        model = tiny_clm(preprocessor)
        bias = np.zeros(preprocessor.vocabulary_size, "float32")
        bias[preprocessor.sep_id] = 50.0
        # Padding, start and mask tokens are never generated, even when
        # more likely than [SEP].
        bias[[preprocessor.pad_id, preprocessor.cls_id, preprocessor.mask_id]] = 99
        model.lm_head.output_bias.assign(bias)
        assert model.generate(["the cat", "a"]) == ["the cat", "a"]
        # Without [SEP] the model runs to `max_length` tokens and no further.
        bias[preprocessor.sep_id] = 0.0
        bias[WORDS.index("dog") + len(SPECIAL_TOKENS)] = 50.0
        model.lm_head.output_bias.assign(bias)
        out = model.generate(["the cat", "a"], max_length=6)
        assert out == ["the cat dog dog dog", "a dog dog dog dog"]
        assert model.generate("the cat sat on", max_length=4) == ["the cat sat"]

    @pytest.mark.parametrize("sampler", ["top_k", "top_p"])
    def test_seeded_sampling_is_deterministic(self, preprocessor, sampler):
        model = tiny_clm(preprocessor)
        kwargs = {"sampler": sampler, "k": 10, "p": 0.99, "temperature": 2.0}
        first = model.generate(["the", "a dog"], seed=1, **kwargs)
        assert first == model.generate(["the", "a dog"], seed=1, **kwargs)
        # An untrained model is near uniform: different seeds differ.
        outputs = {model.generate("the", seed=s, **kwargs)[0] for s in range(4)}
        assert len(outputs) > 1
        for text in outputs:
            assert text.startswith("the")
            assert len(text.split()) <= LENGTH - 1
            assert not any(t in text for t in SPECIAL_TOKENS)

    def test_sampler_instance(self, trained):
        sampler = keras_hub.samplers.GreedySampler()
        assert trained.generate("the cat", sampler=sampler) == [SENTENCE]

    @pytest.mark.parametrize(
        "kwargs, match",
        [
            ({"sampler": "beam"}, "greedy"),
            ({"sampler": None}, "sampler"),
            ({"max_length": 1}, "max_length"),
            ({"max_length": LENGTH + 1}, "max_length"),
            ({"max_length": 4.0}, "max_length"),
            ({"sampler": "top_k", "k": 0}, "`k`"),
            ({"sampler": "top_k", "k": 100}, "`k`"),
            ({"sampler": "top_p", "p": 0.0}, "`p`"),
            ({"sampler": "top_p", "p": 1.5}, "`p`"),
            ({"temperature": 0}, "temperature"),
            ({"sampler": "top_k", "seed": "1"}, "seed"),
        ],
    )
    def test_bad_arguments_raise(self, preprocessor, kwargs, match):
        model = tiny_clm(preprocessor)
        with pytest.raises(ValueError, match=match):
            model.generate("the", **kwargs)

    @pytest.mark.parametrize("prompts", [[], (), None, ["the", 3], b"the"])
    def test_bad_prompts_raise(self, preprocessor, prompts):
        model = tiny_clm(preprocessor)
        with pytest.raises(ValueError, match="prompts"):
            model.generate(prompts)


class TestCausalLanguageModelArguments(TestCase):
    def test_preprocessor_not_a_text_preprocessor_raises(self, preprocessor):
        decoder = tiny_clm(preprocessor).decoder
        for bad in (None, keras.layers.Identity()):
            with pytest.raises(ValueError, match="preprocessor"):
                CausalLanguageModel(decoder, bad)

    def test_decoder_not_a_model_raises(self, preprocessor):
        with pytest.raises(ValueError, match="keras.Model"):
            CausalLanguageModel(keras.layers.Dense(4), preprocessor)

    def test_decoder_without_sequence_output_raises(self, preprocessor):
        with pytest.raises(ValueError, match="sequence_output"):
            CausalLanguageModel(conv_encoder((8, 8, 1), widths=(4,)), preprocessor)

    def test_decoder_of_another_length_or_vocabulary_raises(self, preprocessor):
        size = preprocessor.vocabulary_size
        other_length = transformer_decoder(size, LENGTH + 1, hidden_dim=8)
        with pytest.raises(ValueError, match="sequence_length"):
            CausalLanguageModel(other_length, preprocessor)
        other_vocabulary = transformer_decoder(size + 1, LENGTH, hidden_dim=8)
        with pytest.raises(ValueError, match="vocabulary"):
            CausalLanguageModel(other_vocabulary, preprocessor)

    def test_tied_embeddings_need_a_token_embedding(self, preprocessor):
        ids = keras.Input((LENGTH,), dtype="int32")
        x = keras.layers.Embedding(preprocessor.vocabulary_size, 8)(ids)
        pooled = keras.layers.GlobalAveragePooling1D()(x)
        decoder = keras.Model(ids, {"sequence_output": x, "pooled_output": pooled})
        with pytest.raises(ValueError, match="tie_embeddings"):
            CausalLanguageModel(decoder, preprocessor)
        with pytest.raises(ValueError, match="tie_embeddings"):
            CausalLanguageModel(decoder, preprocessor, tie_embeddings="no")
        model = CausalLanguageModel(decoder, preprocessor, tie_embeddings=False)
        logits = model.logits(token_ids(preprocessor, CORPUS))
        assert tuple(logits.shape) == (4, LENGTH, preprocessor.vocabulary_size)


class TestCausalLanguageModelSaving(TestCase):
    def test_config_round_trip(self, preprocessor):
        model = tiny_clm(preprocessor)
        restored = self.assert_serialization_round_trip(model)
        assert restored.tie_embeddings is True
        assert restored.preprocessor.vocabulary == preprocessor.vocabulary
        assert "decoder" in model.get_config()

    def test_keras_round_trip(self, trained, tmp_path):
        ids = token_ids(trained.preprocessor, CORPUS)
        restored = self.assert_keras_round_trip(trained, ids, tmp_path)
        self.assert_allclose(restored.logits(ids), trained.logits(ids), atol=1e-5)
        # Raw strings and generation work: the preprocessor travels along.
        self.assert_allclose(restored(tf.constant(CORPUS)), trained(ids), atol=1e-5)
        kwargs = {"sampler": "top_k", "seed": 3, "k": 3}
        assert restored.generate(["the", "a"], **kwargs) == trained.generate(
            ["the", "a"], **kwargs
        )
        assert restored.generate("the cat") == [SENTENCE]
        history = restored.fit(ids, batch_size=4, verbose=0).history
        assert set(history) == {"loss", "perplexity", "next_token_accuracy"}


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json
    import os

    os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )

    import keras
    import numpy as np

    from keras_ssl.encoders.transformer_decoder import transformer_decoder
    from keras_ssl.models.causal_language_model import CausalLanguageModel
    from keras_ssl.tokenizers.special_tokens import SPECIAL_TOKENS
    from keras_ssl.tokenizers.text_preprocessor import TextPreprocessor

    WORDS = "the cat sat on mat a dog ran in park big small red blue".split()
    pre = TextPreprocessor(list(SPECIAL_TOKENS) + WORDS, sequence_length=12)
    # Replica 0 gets two short rows, replica 1 two long ones: the global
    # mean must weight tokens, not replicas.
    IDS = pre(tf.constant([
        "the cat", "a dog",
        "the big red dog sat on a mat", "a small blue cat ran in the park",
    ])).numpy()


    def build():
        keras.utils.set_random_seed(0)
        decoder = transformer_decoder(
            pre.vocabulary_size, 12, hidden_dim=8, num_layers=1, num_heads=2,
            intermediate_dim=16, dropout=0.0,
        )
        model = CausalLanguageModel(decoder, pre)
        model.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=False)
        return model


    def run(model):
        history = model.fit(
            IDS, batch_size=4, epochs=2, shuffle=False, verbose=0
        ).history
        return history, [keras.ops.convert_to_numpy(w) for w in model.weights]


    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    single_history, single_weights = run(build())
    with strategy.scope():
        multi = build()
    multi_history, multi_weights = run(multi)
    print("RESULTS " + json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "single": single_history,
        "multi": multi_history,
        "weight_diff": max(
            float(np.abs(a - b).max()) for a, b in zip(single_weights, multi_weights)
        ),
    }))
    """
)


@pytest.mark.slow
def test_mirrored_strategy_matches_one_device(tmp_path):
    script = tmp_path / "compare.py"
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
    assert run.returncode == 0 and lines, (
        f"subprocess failed (rc={run.returncode}):\n{run.stdout[-3000:]}\n"
        f"{run.stderr[-6000:]}"
    )
    results = json.loads(lines[-1][len("RESULTS ") :])
    assert results["replicas"] == 2
    for name in ("loss", "perplexity", "next_token_accuracy"):
        np.testing.assert_allclose(
            results["multi"][name], results["single"][name], rtol=1e-5, atol=1e-6
        )
    assert results["weight_diff"] < 1e-5
