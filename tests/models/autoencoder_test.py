import keras
import numpy as np
import pytest

from keras_ssl.encoders import conv_encoder
from keras_ssl.models.autoencoder import (
    Autoencoder,
    default_decoder,
    reconstruction_loss,
)
from keras_ssl.testing import TestCase


def tiny(seed=0, shape=(28, 28, 1), **kwargs):
    keras.utils.set_random_seed(seed)
    return Autoencoder(conv_encoder(shape, widths=(4, 8)), seed=seed, **kwargs)


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.fixture(scope="module")
def trained(fashion_images):
    """One tiny model: a fit on 64 real images, then 25 steps on one batch."""
    model = tiny(noise_stddev=0.1)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    history = model.fit(fashion_images.x, batch_size=32, epochs=1, verbose=0)
    batch = fashion_images.x[:16]
    losses = [model.train_on_batch(batch, return_dict=True)["loss"] for _ in range(25)]
    return {"model": model, "history": history.history, "losses": losses}


class TestAutoencoder(TestCase):
    def test_call_returns_the_representation(self, fashion_images):
        model = tiny()
        images = fashion_images.x[:5]
        assert tuple(model(images).shape) == (5, 8)
        assert tuple(model.reconstruct(images).shape) == (5, 28, 28, 1)
        out = _np(model.reconstruct(images))
        assert 0.0 <= out.min() and out.max() <= 1.0

    def test_fit_on_real_images(self, trained):
        assert set(trained["history"]) == {"loss", "reconstruction_error"}
        assert np.isfinite(trained["history"]["loss"]).all()
        assert np.isfinite(trained["history"]["reconstruction_error"]).all()

    def test_overfits_a_fixed_batch(self, trained):
        losses = trained["losses"]
        assert np.isfinite(losses).all()
        assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3])

    def test_bce_objective(self):
        model = tiny(loss="bce")
        images = self.make_images(4, size=28)
        loss_sum, count, outputs = model.compute_objective(images, training=True)
        expected = reconstruction_loss(images / 255.0, model.reconstruct(images), "bce")
        self.assert_allclose(loss_sum, keras.ops.sum(expected), rtol=1e-4)
        assert int(count) == 4
        assert tuple(outputs["squared_error"].shape) == (4,)

    def test_32x32_rgb_default_decoder(self):
        model = tiny(shape=(32, 32, 3))
        images = self.make_images(2, size=32, channels=3)
        assert tuple(model.reconstruct(images).shape) == (2, 32, 32, 3)

    def test_noise_only_in_training(self):
        model = tiny(noise_stddev=0.5)
        images = self.make_images(4, size=28)
        a = model.compute_objective(images, training=False)[0]
        b = model.compute_objective(images, training=False)[0]
        self.assert_allclose(a, b, rtol=1e-6)
        noisy = model.compute_objective(images, training=True)[0]
        assert abs(float(noisy) - float(a)) > 1e-6

    def test_reconstruction_loss_matches_numpy(self):
        rng = np.random.default_rng(0)
        x = rng.uniform(size=(3, 4, 4, 1)).astype("float32")
        y = rng.uniform(0.05, 0.95, size=(3, 4, 4, 1)).astype("float32")
        mse = ((x - y) ** 2).reshape(3, -1).mean(1)
        bce = -(x * np.log(y) + (1 - x) * np.log(1 - y)).reshape(3, -1).mean(1)
        np.testing.assert_allclose(_np(reconstruction_loss(x, y, "mse")), mse, 1e-5)
        np.testing.assert_allclose(_np(reconstruction_loss(x, y, "bce")), bce, 1e-5)

    def test_keras_round_trip(self, trained, fashion_images, tmp_path):
        model = trained["model"]
        images = fashion_images.x[:4]
        restored = self.assert_keras_round_trip(model, images, tmp_path)
        self.assert_allclose(
            restored.reconstruct(images), model.reconstruct(images), atol=1e-5
        )
        assert restored.noise_stddev == 0.1

    def test_config_round_trip_with_custom_decoder(self):
        decoder = default_decoder((28, 28, 1), 8, width=4, name="my_decoder")
        model = tiny(decoder=decoder, loss="bce")
        restored = self.assert_serialization_round_trip(model)
        assert restored.decoder.name == "my_decoder"
        assert restored.reconstruction_loss == "bce"

    def test_default_decoder_needs_sizes_divisible_by_4(self):
        with pytest.raises(ValueError, match="`decoder`.*30x30"):
            tiny(shape=(30, 30, 1))

    def test_bad_arguments(self):
        encoder = conv_encoder((28, 28, 1), widths=(4,))
        with pytest.raises(ValueError, match="noise_stddev"):
            Autoencoder(encoder, noise_stddev=-1.0)
        with pytest.raises(ValueError, match="loss"):
            Autoencoder(encoder, loss="l1")
        wrong = default_decoder((32, 32, 1), 4)
        with pytest.raises(ValueError, match="decoder"):
            Autoencoder(encoder, decoder=wrong)
        with pytest.raises(ValueError, match="encoder"):
            Autoencoder("not a model")
        with pytest.raises(ValueError, match="images"):
            tiny()(np.zeros((28, 28, 1), "uint8"))
