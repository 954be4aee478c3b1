import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.augmentation import (
    RandomColorJitter,
    RandomHorizontalFlip,
    ViewAugmenter,
)
from keras_ssl.encoders import conv_encoder
from keras_ssl.models import SimCLR
from keras_ssl.testing import TestCase


class SubclassedImageEncoder(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.dense = keras.layers.Dense(4)

    def call(self, images):
        return self.dense(self.pool(images))


def tiny_simclr(size=8, seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    encoder = conv_encoder((size, size, 1), widths=(4, 8))
    kwargs = {
        "projection_dim": 4,
        "projection_hidden_dims": (8,),
        "temperature": 0.5,
        "seed": seed,
        **kwargs,
    }
    return SimCLR(encoder, **kwargs)


class TestSimCLRCall(TestCase):
    def test_call_returns_representation(self):
        model = tiny_simclr()
        images = self.make_images(4)
        out = model(images)
        assert tuple(out.shape) == (4, 8)
        # uint8 images are scaled to [0, 1]: same as feeding the floats.
        floats = images.astype("float32") / 255.0
        self.assert_allclose(out, model(floats))
        self.assert_allclose(out, model.encoder(floats, training=False))

    def test_encoder_is_a_keras_model(self):
        encoder = conv_encoder((8, 8, 1), widths=(4,))
        model = SimCLR(encoder, projection_dim=4, projection_hidden_dims=(8,))
        assert isinstance(model.encoder, keras.Model)
        assert model.encoder is encoder

    def test_predict(self):
        model = tiny_simclr()
        out = model.predict(self.make_images(10), batch_size=4, verbose=0)
        assert out.shape == (10, 8)

    def test_variables_exist_before_compile(self):
        model = tiny_simclr()
        names = {v.path.split("/")[0] for v in model.trainable_variables}
        assert "projection_head" in names
        assert len(model.trainable_variables) > len(model.encoder.trainable_variables)

    def test_default_augmenter_matches_encoder_input(self):
        model = tiny_simclr()
        assert isinstance(model.augmenter, ViewAugmenter)
        assert model.augmenter.image_size == (8, 8)

    @pytest.mark.parametrize(
        "images",
        [
            np.zeros((2, 8, 8), "uint8"),
            np.zeros((8, 8, 1), "uint8"),
            np.zeros((1, 2, 8, 8, 1), "uint8"),
        ],
        ids=["rank3-batch", "rank3-single", "rank5"],
    )
    def test_wrong_rank_raises(self, images):
        with pytest.raises(ValueError, match="shape"):
            tiny_simclr()(images)

    @pytest.mark.parametrize(
        "images",
        [
            np.zeros((2, 8, 8, 1), "int64"),
            np.zeros((2, 8, 8, 1), "int32"),
            tf.fill((2, 8, 8, 1), "a"),
            np.full((2, 8, 8, 1), "a"),
        ],
        ids=["int64", "int32", "tf-string", "numpy-string"],
    )
    def test_wrong_dtype_raises(self, images):
        with pytest.raises(ValueError, match="dtype"):
            tiny_simclr()(images)

    @pytest.mark.parametrize("temperature", [0, 0.0, -0.5, None])
    def test_bad_temperature_raises(self, temperature):
        with pytest.raises(ValueError, match="temperature"):
            tiny_simclr(temperature=temperature)

    def test_encoder_without_vector_output_raises(self):
        inputs = keras.Input((8, 8, 1))
        encoder = keras.Model(inputs, keras.layers.Conv2D(4, 3)(inputs))
        with pytest.raises(ValueError, match="output_shape"):
            SimCLR(encoder)

    def test_encoder_not_taking_images_raises(self):
        inputs = keras.Input((16,))
        encoder = keras.Model(inputs, keras.layers.Dense(4)(inputs))
        with pytest.raises(ValueError, match="input_shape"):
            SimCLR(encoder)

    @pytest.mark.parametrize(
        "encoder",
        [keras.layers.Dense(4), lambda x: x, "conv_encoder", None],
        ids=["layer", "function", "string", "none"],
    )
    def test_encoder_not_a_model_raises(self, encoder):
        with pytest.raises(ValueError, match="keras.Model"):
            SimCLR(encoder)

    def test_subclassed_encoder_works_or_raises_value_error(self):
        # A subclassed keras.Model is a keras.Model: SimCLR must either take
        # it or say clearly why not (today: AttributeError on output_shape).
        encoder = SubclassedImageEncoder()
        encoder(np.zeros((1, 8, 8, 1), "float32"))
        try:
            model = SimCLR(encoder, projection_dim=4, projection_hidden_dims=(8,))
        except ValueError as e:
            assert "encoder" in str(e)
            return
        assert tuple(model(self.make_images(2)).shape) == (2, 4)


class TestSimCLRTraining(TestCase):
    def test_fit_on_fashion_mnist(self, fashion_images):
        model = tiny_simclr(size=28)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        history = model.fit(fashion_images.x, batch_size=16, epochs=1, verbose=0)
        assert set(history.history) == {"loss", "contrastive_accuracy"}
        assert np.isfinite(history.history["loss"]).all()
        assert 0.0 <= history.history["contrastive_accuracy"][0] <= 1.0
        scores = model.evaluate(
            fashion_images.x, batch_size=32, verbose=0, return_dict=True
        )
        assert set(scores) == {"loss", "contrastive_accuracy"}
        assert np.isfinite(scores["loss"])

    def test_fit_on_labelled_tf_data_ignores_labels(self, fashion_images):
        model = tiny_simclr(size=28)
        model.compile(optimizer="adam")
        ds = fashion_images.to_tf_dataset(batch_size=32)
        history = model.fit(ds, epochs=1, shuffle=False, verbose=0)
        assert set(history.history) == {"loss", "contrastive_accuracy"}
        assert np.isfinite(history.history["loss"]).all()

    def test_loss_at_init_is_near_chance(self):
        # NT-Xent of a random network over 2b views is about log(2b - 1).
        model = tiny_simclr(temperature=1.0)
        model.compile(optimizer="sgd")
        scores = model.evaluate(
            self.make_images(16), batch_size=16, verbose=0, return_dict=True
        )
        assert abs(scores["loss"] - np.log(31)) < 0.5

    def test_overfits_a_fixed_batch(self, fashion_images):
        # Fixed views (identity augmenter): only the network changes, so the
        # loss must fall steadily.
        model = tiny_simclr(size=28, temperature=0.2, augmenter=keras.layers.Identity())
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        history = model.fit(fashion_images.x[:8], batch_size=8, epochs=30, verbose=0)
        losses = np.array(history.history["loss"])
        assert np.isfinite(losses).all()
        assert losses[-5:].mean() < 0.5 * losses[:5].mean(), losses
        assert history.history["contrastive_accuracy"][-1] == 1.0

    def test_loss_decreases_with_random_views(self, fashion_images):
        augmenter = ViewAugmenter(
            (28, 28), crop_scale=(0.6, 1.0), brightness=0.2, contrast=0.2, seed=0
        )
        model = tiny_simclr(size=28, temperature=0.2, augmenter=augmenter)
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        history = model.fit(fashion_images.x[:8], batch_size=8, epochs=30, verbose=0)
        losses = np.array(history.history["loss"])
        assert losses[-10:].mean() < losses[:10].mean() - 0.2, losses

    def test_custom_augmenter(self):
        model = tiny_simclr(augmenter=keras.layers.Identity())
        model.compile(optimizer="sgd")
        history = model.fit(self.make_images(8), batch_size=8, verbose=0)
        # Identical views of distinct images: the positive is always found.
        assert history.history["contrastive_accuracy"] == [1.0]

    @pytest.mark.slow
    def test_fit_with_xla(self):
        # Augmentation is XLA-safe (and Keras turns XLA on by default on
        # GPUs), so the default augmenter must compile.
        model = tiny_simclr()
        model.compile(optimizer="adam", jit_compile=True)
        history = model.fit(self.make_images(8), batch_size=8, verbose=0)
        assert np.isfinite(history.history["loss"]).all()

    @pytest.mark.slow
    def test_fit_with_xla_without_crop(self):
        # The rest of the step (flip, jitter, gather, loss) compiles.
        augmenter = keras.Sequential(
            [RandomHorizontalFlip(seed=0), RandomColorJitter(seed=0)]
        )
        model = tiny_simclr(augmenter=augmenter)
        model.compile(optimizer="adam", jit_compile=True)
        history = model.fit(self.make_images(8), batch_size=8, verbose=0)
        assert np.isfinite(history.history["loss"]).all()


class TestSimCLRSaving(TestCase):
    def test_config_round_trip(self):
        model = tiny_simclr(temperature=0.3, projection_dim=5)
        restored = self.assert_serialization_round_trip(model)
        assert restored.projection_dim == 5
        assert restored.temperature == 0.3
        assert isinstance(restored.augmenter, ViewAugmenter)

    def test_keras_round_trip(self, tmp_path):
        model = tiny_simclr()
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        images = self.make_images(8)
        model.fit(images, batch_size=4, epochs=1, verbose=0)
        restored = self.assert_keras_round_trip(model, images, tmp_path)
        assert isinstance(restored.encoder, keras.Model)
        assert isinstance(restored.optimizer, keras.optimizers.Adam)
        assert int(restored.optimizer.iterations) == 2
        for a, b in zip(model.optimizer.variables, restored.optimizer.variables):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b))
        for a, b in zip(model.weights, restored.weights):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b))
        # Training goes on from the reloaded state.
        history = restored.fit(images, batch_size=8, epochs=1, verbose=0)
        assert set(history.history) == {"loss", "contrastive_accuracy"}

    def test_encoder_saves_on_its_own(self, tmp_path):
        model = tiny_simclr()
        images = self.make_images(4).astype("float32") / 255.0
        self.assert_keras_round_trip(model.encoder, images, tmp_path)
