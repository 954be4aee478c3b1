"""TensorBoard monitoring callbacks: fit tiny models, read the event files back."""

import glob
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.projector import ProjectorConfig

from keras_ssl.callbacks import (
    AugmentedViewImages,
    EmbeddingProjector,
    GeneratedText,
    KNNMonitor,
    MaskedTokenText,
    ReconstructionImages,
    monitoring_callbacks,
)
from keras_ssl.callbacks.monitoring_callbacks import MONITOR_RUN, PROJECTOR_RUN
from keras_ssl.encoders import conv_encoder, transformer_decoder, transformer_encoder
from keras_ssl.evaluation import knn_evaluate
from keras_ssl.models import (
    Autoencoder,
    CausalLanguageModel,
    MaskedAutoencoder,
    MaskedLanguageModel,
    ReplacedTokenDetection,
    RotationPrediction,
    SimCLR,
)
from keras_ssl.tokenizers import TextPreprocessor
from keras_ssl.tokenizers.special_tokens import SPECIAL_TOKENS

SIZE = 8
LENGTH = 10
ANIMALS = "cat dog horse mouse bird fish cow sheep".split()
TOOLS = "hammer saw drill wrench knife spade rake axe".split()
WORDS = "the a big small old new sees finds holds".split()
LABEL_NAMES = ["dark", "bright"]


# Data and models ---------------------------------------------------------


def make_images(n, seed=0):
    """`n` uint8 8x8 images, two classes (dark and bright), and the labels."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    base = np.where(labels == 1, 180, 40)[:, None, None, None]
    noise = rng.integers(-40, 40, size=(n, SIZE, SIZE, 1))
    return np.clip(base + noise, 0, 255).astype("uint8"), labels.astype("int64")


def make_texts(n, seed=0):
    """`n` short sentences about animals (class 0) or tools (class 1)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        nouns = ANIMALS if i % 2 == 0 else TOOLS
        words = [rng.choice(WORDS[:2]), rng.choice(WORDS[2:6]), rng.choice(nouns)]
        words += [rng.choice(WORDS[6:]), rng.choice(nouns)]
        texts.append(" ".join(words))
        labels.append(i % 2)
    return texts, np.array(labels, "int64")


def preprocessor():
    return TextPreprocessor(
        list(SPECIAL_TOKENS) + WORDS + ANIMALS + TOOLS, sequence_length=LENGTH
    )


def tiny_conv(seed=0):
    keras.utils.set_random_seed(seed)
    return conv_encoder((SIZE, SIZE, 1), widths=(4, 8), blocks_per_stage=0)


def tiny_simclr(seed=0):
    return SimCLR(
        tiny_conv(seed),
        projection_dim=4,
        projection_hidden_dims=(8,),
        seed=seed,
        collapse_metrics=True,
    )


def tiny_text_encoder(pre, build=transformer_encoder, seed=0):
    keras.utils.set_random_seed(seed)
    return build(
        pre.vocabulary_size,
        LENGTH,
        hidden_dim=8,
        num_layers=1,
        num_heads=1,
        intermediate_dim=16,
        dropout=0.0,
    )


def fit(model, x, callbacks, epochs=2):
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model.fit(
        x, batch_size=8, epochs=epochs, callbacks=callbacks, verbose=0, shuffle=False
    )


# Event files -------------------------------------------------------------


def read_run(run_dir):
    """`{tag: [(step, ndarray), ...]}` of every tensor summary in a run."""
    accumulator = event_accumulator.EventAccumulator(
        run_dir, size_guidance={event_accumulator.TENSORS: 0}
    )
    accumulator.Reload()
    return {
        tag: [
            (e.step, tf.make_ndarray(e.tensor_proto)) for e in accumulator.Tensors(tag)
        ]
        for tag in accumulator.Tags()[event_accumulator.TENSORS]
    }


def decode_image(value):
    """`(width, height, image)` of one image-summary value."""
    width, height, png = value[0], value[1], value[2]
    image = tf.io.decode_png(png).numpy()
    return int(width), int(height), image


def text_of(value):
    return value.item().decode("utf-8")


def read_projector(run_dir):
    config = ProjectorConfig()
    with open(os.path.join(run_dir, "projector_config.pbtxt")) as f:
        text_format.Parse(f.read(), config)
    return config


# kNN ---------------------------------------------------------------------


class TestKNNMonitor:
    def test_knn_accuracy_is_in_the_logs_history_and_tensorboard(self, tmp_path):
        x, y = make_images(48)
        model = tiny_simclr()
        monitor = KNNMonitor(x[:32], y[:32], x[32:], y[32:], k=5)
        log_dir = str(tmp_path / "logs")
        history = fit(
            model, x[:32], [monitor, keras.callbacks.TensorBoard(log_dir)], epochs=2
        )
        accuracies = history.history["knn_accuracy"]
        assert len(accuracies) == 2
        # The last value is the protocol of `knn_evaluate` on the final model.
        expected = knn_evaluate(model, x[:32], y[:32], x[32:], y[32:], k=5)
        assert accuracies[-1] == pytest.approx(expected["accuracy"])
        assert [epoch for epoch, _ in monitor.history] == [0, 1]
        scalars = read_run(os.path.join(log_dir, "train"))
        for tag in ("epoch_knn_accuracy", "epoch_loss", "epoch_embedding_std"):
            assert tag in scalars
        steps = [step for step, _ in scalars["epoch_knn_accuracy"]]
        values = [float(v) for _, v in scalars["epoch_knn_accuracy"]]
        assert steps == [0, 1]
        np.testing.assert_allclose(values, accuracies, rtol=1e-6)

    def test_own_log_dir_and_every(self, tmp_path):
        texts, labels = make_texts(24)
        pre = preprocessor()
        model = MaskedLanguageModel(tiny_text_encoder(pre), pre, seed=0)
        # Raw strings, tokenized with the model's own preprocessor.
        monitor = KNNMonitor(
            texts[:16],
            labels[:16],
            texts[16:],
            labels[16:],
            k=3,
            log_dir=str(tmp_path / "knn"),
            every=2,
        )
        ids = pre(tf.constant(texts[:16])).numpy()
        history = fit(model, ids, [monitor], epochs=2)
        assert len(history.history["knn_accuracy"]) == 1  # epoch 2 only
        scalars = read_run(str(tmp_path / "knn"))
        assert [step for step, _ in scalars["epoch_knn_accuracy"]] == [1]
        assert 0.0 <= float(scalars["epoch_knn_accuracy"][0][1]) <= 1.0

    @pytest.mark.parametrize(
        "kwargs, match",
        [
            ({"k": 0}, "Argument `k`"),
            ({"k": 17}, "Argument `k`"),
            ({"temperature": 0}, "Argument `temperature`"),
            ({"every": 0}, "Argument `every`"),
            ({"log_dir": ""}, "Argument `log_dir`"),
        ],
    )
    def test_bad_arguments(self, kwargs, match):
        x, y = make_images(24)
        with pytest.raises(ValueError, match=match):
            KNNMonitor(x[:16], y[:16], x[16:], y[16:], **{"k": 5, **kwargs})

    def test_bad_data(self):
        x, y = make_images(24)
        with pytest.raises(ValueError, match="one label per example"):
            KNNMonitor(x[:16], y[:15], x[16:], y[16:])
        with pytest.raises(ValueError, match="integer class ids"):
            KNNMonitor(x[:16], y[:16].astype("float32"), x[16:], y[16:])
        with pytest.raises(ValueError, match="same kind of input"):
            KNNMonitor(x[:16], y[:16], ["a cat"] * 8, y[16:])

    def test_texts_for_an_image_model_fail_before_training(self):
        texts, labels = make_texts(8)
        model = tiny_simclr()
        monitor = KNNMonitor(texts, labels, texts, labels, k=2)
        with pytest.raises(ValueError, match="not a text model"):
            fit(model, make_images(8)[0], [monitor], epochs=1)


# Images --------------------------------------------------------------------


class TestImagePanels:
    def test_factory_on_simclr_writes_views_knn_and_projector(self, tmp_path):
        x, y = make_images(48)
        log_dir = str(tmp_path / "logs")
        model = tiny_simclr()
        callbacks = monitoring_callbacks(
            model,
            log_dir,
            labelled=(x[:32], y[:32]),
            sample=(x[32:], y[32:]),
            label_names=LABEL_NAMES,
            max_images=4,
        )
        assert [type(c) for c in callbacks] == [
            KNNMonitor,
            AugmentedViewImages,
            EmbeddingProjector,
        ]
        fit(model, x[:32], [*callbacks, keras.callbacks.TensorBoard(log_dir)])

        train = read_run(os.path.join(log_dir, "train"))
        assert {"epoch_knn_accuracy", "epoch_loss", "epoch_effective_rank"} <= set(
            train
        )
        monitor = read_run(os.path.join(log_dir, MONITOR_RUN))
        grids = monitor["augmented_views"]
        assert [step for step, _ in grids] == [0, 1]
        width, height, image = decode_image(grids[-1][1])
        # 3 rows (images, view 1, view 2) of 4 columns, 1-pixel separators.
        assert (height, width) == (3 * (SIZE + 1) - 1, 4 * (SIZE + 1) - 1)
        assert image.shape == (height, width, 1)
        # The first row holds the images themselves.
        np.testing.assert_allclose(image[:SIZE, :SIZE, 0], x[32, :, :, 0], atol=1)

        projector_dir = os.path.join(log_dir, PROJECTOR_RUN)
        config = read_projector(projector_dir)
        assert [e.tensor_name for e in config.embeddings] == [
            "epoch_2/.ATTRIBUTES/VARIABLE_VALUE"
        ]
        embedding = config.embeddings[0]
        assert embedding.metadata_path == "metadata.tsv"
        assert list(embedding.sprite.single_image_dim) == [SIZE, SIZE]
        with open(os.path.join(projector_dir, "metadata.tsv")) as f:
            rows = f.read().splitlines()
        assert rows[0] == "index\tlabel"
        assert len(rows) == 1 + 16
        assert rows[1:3] == ["0\tdark", "1\tbright"]
        sprite = tf.io.decode_png(
            tf.io.read_file(os.path.join(projector_dir, "sprite.png"))
        ).numpy()
        assert sprite.shape == (4 * SIZE, 4 * SIZE, 1)  # 16 images, 4 x 4
        np.testing.assert_array_equal(sprite[:SIZE, SIZE : 2 * SIZE], x[33])
        reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(projector_dir))
        saved = reader.get_tensor(embedding.tensor_name)
        np.testing.assert_allclose(saved, model.predict(x[32:], verbose=0), atol=1e-5)
        # The folder is a TensorBoard run, so the Projector looks at it.
        assert "embedding_projector" in read_run(projector_dir)

    def test_projector_plugin_serves_the_embeddings(self, tmp_path):
        """TensorBoard's own Projector plugin finds tensors, metadata, sprite."""
        from tensorboard.backend.event_processing import (
            data_provider,
            plugin_event_multiplexer,
        )
        from tensorboard.plugins import base_plugin
        from tensorboard.plugins.projector.projector_plugin import ProjectorPlugin
        from werkzeug.test import Client

        x, y = make_images(12)
        log_dir = str(tmp_path / "logs")
        model = tiny_simclr()
        projector = EmbeddingProjector(
            x, y, os.path.join(log_dir, "projector"), LABEL_NAMES, every=1
        )
        fit(model, x, [projector], epochs=2)
        assert projector.tensor_names == ["epoch_1", "epoch_2"]

        multiplexer = plugin_event_multiplexer.EventMultiplexer()
        multiplexer.AddRunsFromDirectory(str(tmp_path))
        multiplexer.Reload()
        context = base_plugin.TBContext(
            logdir=str(tmp_path),
            data_provider=data_provider.MultiplexerDataProvider(
                multiplexer, str(tmp_path)
            ),
        )
        plugin = ProjectorPlugin(context)
        apps = plugin.get_plugin_apps()
        run = os.path.join("logs", "projector")

        def get(route, **query):
            response = Client(apps[route]).get(route, query_string=query)
            assert response.status_code == 200, response.get_data(as_text=True)
            return response

        assert get("/runs").json == [run]
        names = [e["tensorName"] for e in get("/info", run=run).json["embeddings"]]
        assert names == [f"epoch_{i}/.ATTRIBUTES/VARIABLE_VALUE" for i in (1, 2)]
        tensor = np.frombuffer(
            get("/tensor", run=run, name=names[-1]).data, "float32"
        ).reshape(12, -1)
        np.testing.assert_allclose(tensor, model.predict(x, verbose=0), atol=1e-5)
        metadata = get("/metadata", run=run, name=names[0]).get_data(as_text=True)
        assert len(metadata.splitlines()) == 1 + 12
        sprite = get("/sprite_image", run=run, name=names[0]).data
        assert tf.io.decode_png(sprite).shape == (3 * SIZE, 4 * SIZE, 1)

    def test_views_do_not_change_the_training_run(self, tmp_path):
        x, _ = make_images(16)
        plain, monitored = tiny_simclr(), tiny_simclr()
        fit(plain, x, [], epochs=2)
        fit(
            monitored,
            x,
            [AugmentedViewImages(x, str(tmp_path), max_images=2)],
            epochs=2,
        )
        for a, b in zip(plain.weights, monitored.weights):
            np.testing.assert_allclose(np.array(a), np.array(b), atol=1e-6)

    def test_views_need_an_augmenter(self, tmp_path):
        x, _ = make_images(8)
        model = RotationPrediction(tiny_conv())
        with pytest.raises(ValueError, match="needs an image model with an augmenter"):
            fit(model, x, [AugmentedViewImages(x, str(tmp_path))], epochs=1)

    def test_images_of_the_wrong_size_fail(self, tmp_path):
        x = np.zeros((4, 12, 12, 1), "uint8")
        model = tiny_simclr()
        with pytest.raises(ValueError, match="must match the encoder's input"):
            AugmentedViewImages(x, str(tmp_path)).set_model(model)

    def test_denoising_autoencoder_reconstructions(self, tmp_path):
        x, _ = make_images(16)
        model = Autoencoder(tiny_conv(), noise_stddev=0.2, seed=0)
        callback = ReconstructionImages(x, str(tmp_path), max_images=3, every=2)
        fit(model, x, [callback], epochs=2)
        (step, value), *rest = read_run(str(tmp_path))["reconstructions"]
        assert step == 1 and not rest  # every=2: the second epoch only
        width, height, image = decode_image(value)
        # Rows: input, noisy input, reconstruction of the noisy input.
        assert (height, width) == (3 * (SIZE + 1) - 1, 3 * (SIZE + 1) - 1)
        images, noisy, reconstructed = callback.rows()
        assert not np.allclose(noisy, images)
        np.testing.assert_allclose(
            reconstructed, np.array(model.reconstruct(noisy)), atol=1e-6
        )

    def test_masked_autoencoder_rows(self, tmp_path):
        x, _ = make_images(16)
        model = MaskedAutoencoder(
            encoder_dim=8,
            patch_size=4,
            mask_ratio=0.5,
            depth=1,
            decoder_dim=8,
            num_heads=1,
            image_shape=(SIZE, SIZE, 1),
            seed=0,
        )
        callback = ReconstructionImages(x, str(tmp_path), max_images=4)
        fit(model, x, [callback], epochs=1)
        assert "reconstructions" in read_run(str(tmp_path))
        state = np.array(model.masking.seed_generator.state)
        images, masked, pasted = callback.rows()
        # The model's random state is left as training had it.
        np.testing.assert_array_equal(
            np.array(model.masking.seed_generator.state), state
        )
        # Two of the four 4x4 patches of every image are hidden (grey).
        patches = lambda a: a.reshape(4, 2, 4, 2, 4).transpose(0, 1, 3, 2, 4)
        hidden = np.all(patches(masked) == 0.5, axis=(3, 4))
        assert hidden.reshape(4, -1).sum(axis=1).tolist() == [2, 2, 2, 2]
        # Visible patches are the input's, in both rows.
        np.testing.assert_allclose(patches(masked)[~hidden], patches(images)[~hidden])
        np.testing.assert_allclose(patches(pasted)[~hidden], patches(images)[~hidden])
        # The same masks every time.
        np.testing.assert_array_equal(callback.rows()[1], masked)

    def test_reconstructions_need_an_autoencoder(self, tmp_path):
        with pytest.raises(ValueError, match="needs an Autoencoder or a"):
            ReconstructionImages(make_images(4)[0], str(tmp_path)).set_model(
                tiny_simclr()
            )


# Text ----------------------------------------------------------------------


class TestTextPanels:
    def test_factory_on_mlm_writes_masked_tokens_and_projector(self, tmp_path):
        texts, labels = make_texts(32)
        pre = preprocessor()
        model = MaskedLanguageModel(tiny_text_encoder(pre), pre, mask_rate=0.3, seed=0)
        log_dir = str(tmp_path / "logs")
        callbacks = monitoring_callbacks(
            model,
            log_dir,
            labelled=(texts[:24], labels[:24]),
            sample=(texts[24:], labels[24:]),
            max_texts=3,
            knn_k=3,
        )
        assert [type(c) for c in callbacks] == [
            KNNMonitor,
            MaskedTokenText,
            EmbeddingProjector,
        ]
        ids = pre(tf.constant(texts[:24])).numpy()
        history = fit(model, ids, [*callbacks, keras.callbacks.TensorBoard(log_dir)])
        assert len(history.history["knn_accuracy"]) == 2
        assert "epoch_mlm_accuracy" in read_run(os.path.join(log_dir, "train"))

        tables = read_run(os.path.join(log_dir, MONITOR_RUN))["masked_tokens"]
        assert [step for step, _ in tables] == [0, 1]
        markdown = text_of(tables[-1][1])
        lines = markdown.splitlines()
        assert lines[0].startswith("Top-1 on these")
        assert lines[2] == "| input (with [MASK]) | predicted | truth | right |"
        rows = lines[4:]
        assert len(rows) == 3
        text_callback = callbacks[1]
        query = text_callback._query
        for i, row in enumerate(rows):
            cells = [c.strip() for c in row.strip("|").split("|")]
            count = query["counts"][i]
            assert count == 2  # round(0.3 * 5 words), as the model masks
            assert cells[0].count("[MASK]") == count
            truth = [
                pre.vocabulary[t]
                for t in query["ids"][i, query["positions"][i, :count]]
            ]
            assert cells[2] == ", ".join(f"`{t}`" for t in truth)
            # Unmasked words of the input are shown as they are.
            kept = [w for w in cells[0].split() if w != "[MASK]"]
            assert all(w in texts[24 + i].split() for w in kept)

        projector_dir = os.path.join(log_dir, PROJECTOR_RUN)
        with open(os.path.join(projector_dir, "metadata.tsv")) as f:
            rows = f.read().splitlines()
        assert rows[0] == "index\tlabel\ttext"
        assert rows[1] == f"0\t{labels[24]}\t{texts[24]}"
        assert len(rows) == 1 + 8
        config = read_projector(projector_dir)
        assert not config.embeddings[0].sprite.image_path

    def test_generated_text_for_causal_lm(self, tmp_path):
        texts, _ = make_texts(16)
        pre = preprocessor()
        model = CausalLanguageModel(tiny_text_encoder(pre, transformer_decoder), pre)
        callbacks = monitoring_callbacks(
            model, str(tmp_path), sample=(texts, None), max_texts=2, prompt_words=2
        )
        assert [type(c) for c in callbacks] == [GeneratedText, EmbeddingProjector]
        generated = callbacks[0]
        assert generated.prompts == [" ".join(t.split()[:2]) for t in texts[:2]]
        ids = pre(tf.constant(texts)).numpy()
        fit(model, ids, callbacks, epochs=1)
        tables = read_run(os.path.join(str(tmp_path), MONITOR_RUN))["generated_text"]
        lines = text_of(tables[0][1]).splitlines()
        assert lines[0] == "| prompt | generated |"
        assert len(lines) == 2 + 2
        for prompt, line in zip(generated.prompts, lines[2:]):
            cells = [c.strip() for c in line.strip("|").split("|")]
            assert cells[0] == prompt
            assert cells[1].startswith(prompt)  # the prompt, then its continuation
        assert generated.table() == text_of(tables[0][1])  # greedy: deterministic
        with open(os.path.join(str(tmp_path), PROJECTOR_RUN, "metadata.tsv")) as f:
            assert f.readline() == "index\ttext\n"

    @pytest.mark.parametrize("kind", ["rtd", "mlm_nsp"])
    def test_masked_tokens_for_the_other_mlm_models(self, tmp_path, kind):
        texts, _ = make_texts(4)
        pre = preprocessor()
        encoder = tiny_text_encoder(pre)
        if kind == "rtd":
            model = ReplacedTokenDetection(encoder, pre, mask_rate=0.2, seed=0)
        else:
            model = MaskedLanguageModel(
                encoder, pre, mask_rate=0.2, next_sentence_prediction=True
            )
        callback = MaskedTokenText(texts, str(tmp_path), seed=1)
        callback.set_model(model)
        callback.write(epoch=3)
        ((step, value),) = read_run(str(tmp_path))["masked_tokens"]
        assert step == 3
        _, correct, total = callback.table()
        assert total == 4  # one of the 5 words of each text
        assert f"{correct}/{total}" in text_of(value).splitlines()[0]
        assert text_of(value).count("[MASK]") == 1 + 4  # header + one per row

    def test_masked_word_pieces_stay_inside_their_word(self, tmp_path):
        pre = TextPreprocessor(
            [*SPECIAL_TOKENS, "the", "ham", "##mer", "saw"], sequence_length=LENGTH
        )
        callback = MaskedTokenText(["the hammer saw"], str(tmp_path))
        callback.set_model(MaskedLanguageModel(tiny_text_encoder(pre), pre))
        ids = pre(tf.constant(["the hammer saw"])).numpy()[0]
        assert callback._render(ids, ids) == "the hammer saw"
        masked = ids.copy()
        masked[3] = pre.mask_id  # ##mer
        assert callback._render(masked, ids) == "the ham[MASK] saw"
        masked[2] = pre.mask_id  # ham
        assert callback._render(masked, ids) == "the [MASK][MASK] saw"

    def test_text_callbacks_need_the_right_model(self, tmp_path):
        pre = preprocessor()
        mlm = MaskedLanguageModel(tiny_text_encoder(pre), pre)
        clm = CausalLanguageModel(tiny_text_encoder(pre, transformer_decoder), pre)
        with pytest.raises(ValueError, match="needs a masked language model"):
            MaskedTokenText(["a cat"], str(tmp_path)).set_model(clm)
        with pytest.raises(ValueError, match="needs a CausalLanguageModel"):
            GeneratedText(["a cat"], str(tmp_path)).set_model(mlm)
        with pytest.raises(ValueError, match="must not exceed"):
            GeneratedText(["a cat"], str(tmp_path), max_length=99).set_model(clm)
        with pytest.raises(ValueError, match="Argument `sampler`"):
            GeneratedText(["a cat"], str(tmp_path), sampler="beam")
        with pytest.raises(ValueError, match="not one string"):
            MaskedTokenText("a cat", str(tmp_path))


# The factory and the projector's checks -----------------------------------


class TestFactoryAndProjectorArguments:
    def test_rules_without_fitting(self, tmp_path):
        x, y = make_images(8)
        log_dir = str(tmp_path)
        rotation = RotationPrediction(tiny_conv())
        assert monitoring_callbacks(rotation, log_dir) == []
        kinds = [
            type(c) for c in monitoring_callbacks(rotation, log_dir, sample=(x, y))
        ]
        assert kinds == [EmbeddingProjector]
        autoencoder = Autoencoder(tiny_conv())
        kinds = [
            type(c)
            for c in monitoring_callbacks(
                autoencoder, log_dir, labelled=(x, y, x, y), sample=(x, None), knn_k=3
            )
        ]
        assert kinds == [KNNMonitor, ReconstructionImages, EmbeddingProjector]

    def test_panel_by_name_none_or_function(self, tmp_path):
        x, y = make_images(8)
        log_dir = str(tmp_path)
        simclr = tiny_simclr()

        def kinds(**kwargs):
            callbacks = monitoring_callbacks(simclr, log_dir, sample=(x, y), **kwargs)
            return [type(c) for c in callbacks]

        assert kinds() == kinds(panel="views")
        assert kinds(panel="views") == [AugmentedViewImages, EmbeddingProjector]
        assert kinds(panel=None) == [EmbeddingProjector]
        made = []

        def panel(images, monitor_dir, *, max_images, every, seed, **options):
            made.append((len(images), monitor_dir, max_images, every, seed))
            return AugmentedViewImages(images, monitor_dir, max_images=max_images)

        assert kinds(panel=panel, max_images=2, every=3, seed=5) == [
            AugmentedViewImages,
            EmbeddingProjector,
        ]
        assert made == [(8, os.path.join(log_dir, MONITOR_RUN), 2, 3, 5)]
        # "auto" picks by capability: the autoencoder reconstructs, the
        # rotation model has no panel.
        autoencoder = Autoencoder(tiny_conv())
        (first, _) = monitoring_callbacks(autoencoder, log_dir, sample=(x, None))
        assert isinstance(first, ReconstructionImages)
        rotation = RotationPrediction(tiny_conv())
        assert [
            type(c)
            for c in monitoring_callbacks(
                rotation, log_dir, sample=(x, None), panel="auto"
            )
        ] == [EmbeddingProjector]
        with pytest.raises(ValueError, match=r"Received: panel='view'.*'views'"):
            monitoring_callbacks(simclr, log_dir, panel="view")

    def test_labelled_pair_is_split_into_bank_and_queries(self, tmp_path):
        x, y = make_images(20)
        (knn,) = monitoring_callbacks(
            tiny_simclr(), str(tmp_path), labelled=(x, y), knn_k=3
        )
        assert (len(knn.x_train), len(knn.x_test)) == (15, 5)
        both = np.concatenate([knn.x_train, knn.x_test])
        assert sorted(map(bytes, both)) == sorted(map(bytes, x))

    @pytest.mark.parametrize(
        "kwargs, match",
        [
            ({"labelled": (1, 2, 3)}, "Argument `labelled`"),
            ({"sample": np.zeros((4, SIZE, SIZE, 1), "uint8")}, "Argument `sample`"),
            ({"every": 0}, "Argument `every`"),
            ({"knn_query_fraction": 1.0}, "Argument `knn_query_fraction`"),
            ({"max_images": 0}, "Argument `max_images`"),
        ],
    )
    def test_factory_bad_arguments(self, tmp_path, kwargs, match):
        with pytest.raises(ValueError, match=match):
            monitoring_callbacks(tiny_simclr(), str(tmp_path), **kwargs)

    def test_factory_needs_an_ssl_model(self, tmp_path):
        with pytest.raises(ValueError, match="must be a keras_ssl SSLModel"):
            monitoring_callbacks(tiny_conv(), str(tmp_path))

    def test_projector_bad_arguments(self, tmp_path):
        x, y = make_images(4)
        log_dir = str(tmp_path)
        with pytest.raises(ValueError, match="`label_names` needs `labels`"):
            EmbeddingProjector(x, None, log_dir, label_names=["a", "b"])
        with pytest.raises(ValueError, match="must index `label_names`"):
            EmbeddingProjector(x, y, log_dir, label_names=["a"])
        with pytest.raises(ValueError, match="one label per example"):
            EmbeddingProjector(x, y[:3], log_dir)
        with pytest.raises(ValueError, match="Argument `every`"):
            EmbeddingProjector(x, y, log_dir, every=0)
        big = np.zeros((4, 5000, 5000, 1), "uint8")
        with pytest.raises(ValueError, match="sprite larger than 8192"):
            EmbeddingProjector(big, None, log_dir)
        with pytest.raises(ValueError, match="Argument `x`"):
            EmbeddingProjector(np.zeros((4, 3)), None, log_dir)

    def test_projector_without_labels_writes_one_metadata_column(self, tmp_path):
        x, _ = make_images(5)
        projector = EmbeddingProjector(x, None, str(tmp_path))
        projector.set_model(tiny_simclr())
        projector.write(epoch=0)
        with open(tmp_path / "metadata.tsv") as f:
            assert f.read().splitlines() == ["0", "1", "2", "3", "4"]
        # Sprite of 5 images: 3 per row, 2 rows.
        sprite = tf.io.decode_png(tf.io.read_file(str(tmp_path / "sprite.png")))
        assert tuple(sprite.shape) == (2 * SIZE, 3 * SIZE, 1)
        assert len(glob.glob(str(tmp_path / "events.out.tfevents.*"))) == 1
