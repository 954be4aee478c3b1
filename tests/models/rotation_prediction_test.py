import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.encoders import conv_encoder
from keras_ssl.models.rotation_prediction import RotationPrediction, rotate_images
from keras_ssl.testing import TestCase


def tiny(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return RotationPrediction(
        conv_encoder((28, 28, 1), widths=(4, 8)), seed=seed, **kwargs
    )


@pytest.fixture(scope="module")
def trained(fashion_images):
    """One tiny model: a fit on 64 real images, then 25 steps on one batch."""
    model = tiny(hidden_dim=8)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    history = model.fit(fashion_images.x, batch_size=32, epochs=1, verbose=0)
    batch = fashion_images.x[:16]
    losses = [model.train_on_batch(batch, return_dict=True)["loss"] for _ in range(30)]
    return {"model": model, "history": history.history, "losses": losses}


class TestRotationPrediction(TestCase):
    def test_rotate_images_matches_np_rot90(self):
        images = np.random.default_rng(0).uniform(size=(8, 5, 5, 2)).astype("float32")
        k = np.array([0, 1, 2, 3, 3, 2, 1, 0])
        rotated = keras.ops.convert_to_numpy(rotate_images(images, k))
        for i in range(8):
            np.testing.assert_array_equal(
                rotated[i], np.rot90(images[i], k[i], axes=(0, 1))
            )

    def test_rotate_images_under_xla(self):
        images = np.arange(2 * 3 * 3, dtype="float32").reshape(2, 3, 3, 1)
        rotate = tf.function(rotate_images, jit_compile=True)
        out = rotate(images, tf.constant([1, 3])).numpy()
        np.testing.assert_array_equal(out[0], np.rot90(images[0], 1))
        np.testing.assert_array_equal(out[1], np.rot90(images[1], 3))

    def test_call_returns_the_representation(self, fashion_images):
        model = tiny()
        assert tuple(model(fashion_images.x[:5]).shape) == (5, 8)

    def test_linear_and_mlp_heads(self):
        assert len(tiny().rotation_head.hidden) == 0
        assert len(tiny(hidden_dim=8).rotation_head.hidden) == 1

    def test_fit_on_real_images(self, trained):
        assert set(trained["history"]) == {"loss", "rotation_accuracy"}
        assert np.isfinite(trained["history"]["loss"]).all()
        assert 0.0 <= trained["history"]["rotation_accuracy"][0] <= 1.0

    def test_overfits_a_fixed_batch(self, trained):
        losses = trained["losses"]
        assert np.isfinite(losses).all()
        assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3])

    def test_keras_round_trip(self, trained, fashion_images, tmp_path):
        model = trained["model"]
        restored = self.assert_keras_round_trip(model, fashion_images.x[:4], tmp_path)
        assert restored.hidden_dim == 8
        self.assert_allclose(
            restored.rotation_head(model(fashion_images.x[:4])),
            model.rotation_head(model(fashion_images.x[:4])),
            atol=1e-5,
        )

    def test_config_round_trip(self):
        self.assert_serialization_round_trip(tiny(hidden_dim=4))

    def test_non_square_encoder_is_refused(self):
        encoder = conv_encoder((28, 32, 1), widths=(4,))
        with pytest.raises(ValueError, match="encoder.*square"):
            RotationPrediction(encoder)

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="hidden_dim"):
            tiny(hidden_dim=-1)
        with pytest.raises(ValueError, match="encoder"):
            RotationPrediction(None)
        with pytest.raises(ValueError, match="images"):
            rotate_images(np.zeros((1, 4, 5, 1)), [1])
