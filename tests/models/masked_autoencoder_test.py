import os

import keras
import numpy as np
import pytest

from keras_ssl.layers import Patchify
from keras_ssl.models.masked_autoencoder import MaskedAutoencoder, masked_patch_loss
from keras_ssl.testing import TestCase

TINY = dict(
    encoder_dim=16, patch_size=7, depth=1, decoder_dim=8, decoder_depth=1, num_heads=2
)


def tiny(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return MaskedAutoencoder(**{**TINY, "seed": seed, **kwargs})


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.fixture(scope="module")
def trained(fashion_images):
    """One tiny MAE: a fit on 64 real images, then 25 steps on one batch."""
    model = tiny()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=False)
    history = model.fit(fashion_images.x, batch_size=32, epochs=1, verbose=0)
    batch = fashion_images.x[:16]
    losses = [model.train_on_batch(batch, return_dict=True)["loss"] for _ in range(25)]
    return {"model": model, "history": history.history, "losses": losses}


class TestMaskedAutoencoder(TestCase):
    def test_call_returns_the_representation(self, fashion_images):
        model = tiny()
        assert tuple(model(fashion_images.x[:5]).shape) == (5, 16)
        assert tuple(model.encoder.input_shape) == (None, 28, 28, 1)
        assert tuple(model.encoder.output_shape) == (None, 16)
        # The encoder's layers are the ones the masked training path uses.
        encoder_ids = {id(v) for v in model.encoder.trainable_variables}
        assert {id(v) for v in model.patch_embed.trainable_variables} <= encoder_ids
        for block in model.blocks:
            assert {id(v) for v in block.trainable_variables} <= encoder_ids
        # Every variable is built before compile, each exactly once.
        ids = [id(v) for v in model.trainable_variables]
        assert len(ids) == len(set(ids))
        assert id(model.mask_token) in ids

    def test_fit_on_real_images(self, trained):
        assert set(trained["history"]) == {"loss"}
        assert np.isfinite(trained["history"]["loss"]).all()

    def test_overfits_a_fixed_batch(self, trained):
        losses = trained["losses"]
        assert np.isfinite(losses).all()
        assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3])

    def test_encoder_sees_only_the_visible_patches(self, fashion_images):
        model = tiny(mask_ratio=0.75)
        assert model.num_patches == 16
        assert model.num_visible == round(0.25 * 16) == 4
        patches = model.patchify(fashion_images.x[:3].astype("float32") / 255.0)
        encoded, masked = model.encode_visible(patches)
        assert tuple(encoded.shape) == (3, 4, 16)
        np.testing.assert_array_equal(_np(masked["mask"]).sum(axis=1), 12)
        predictions = model.decode(encoded, masked["restore_indices"])
        assert tuple(predictions.shape) == (3, 16, 49)

    def test_loss_is_on_masked_patches_only(self, fashion_images):
        model = tiny()
        patches = model.patchify(fashion_images.x[:4].astype("float32") / 255.0)
        encoded, masked = model.encode_visible(patches)
        predictions = model.decode(encoded, masked["restore_indices"])
        mask = _np(masked["mask"])
        targets = _np(patches)
        rng = np.random.default_rng(0)
        for norm_pix_loss in (False, True):
            loss = _np(masked_patch_loss(predictions, targets, mask, norm_pix_loss))
            assert np.all(loss[mask == 0] == 0.0)
            # Changing the visible patches' targets changes nothing ...
            visible_changed = np.where(
                mask[..., None] == 0, rng.uniform(size=targets.shape), targets
            ).astype("float32")
            np.testing.assert_allclose(
                _np(
                    masked_patch_loss(predictions, visible_changed, mask, norm_pix_loss)
                ),
                loss,
            )
            # ... changing a masked one does.
            b, i = np.argwhere(mask == 1)[0]
            masked_changed = targets.copy()
            masked_changed[b, i] = rng.uniform(size=targets.shape[-1])
            changed = _np(
                masked_patch_loss(predictions, masked_changed, mask, norm_pix_loss)
            )
            assert changed[b, i] != loss[b, i]

    def test_masked_patch_loss_matches_numpy(self):
        rng = np.random.default_rng(1)
        pred = rng.normal(size=(2, 4, 3)).astype("float32")
        target = rng.uniform(size=(2, 4, 3)).astype("float32")
        mask = np.array([[1, 0, 1, 0], [0, 0, 1, 1]], "float32")
        expected = ((pred - target) ** 2).mean(-1) * mask
        self.assert_allclose(masked_patch_loss(pred, target, mask), expected)
        norm = (target - target.mean(-1, keepdims=True)) / np.sqrt(
            target.var(-1, keepdims=True) + 1e-6
        )
        expected = ((pred - norm) ** 2).mean(-1) * mask
        self.assert_allclose(
            masked_patch_loss(pred, target, mask, norm_pix_loss=True),
            expected,
            rtol=1e-4,
        )

    def test_objective_counts_masked_patches(self, fashion_images):
        model = tiny(norm_pix_loss=True)
        loss_sum, count, _ = model.compute_objective(fashion_images.x[:4])
        assert float(count) == 4 * 12
        assert np.isfinite(float(loss_sum))

    def test_keras_round_trip(self, trained, fashion_images, tmp_path):
        model = trained["model"]
        restored = self.assert_keras_round_trip(model, fashion_images.x[:4], tmp_path)
        for a, b in zip(model.weights, restored.weights):
            np.testing.assert_allclose(_np(a), _np(b))
        assert restored.mask_ratio == 0.75
        # The encoder alone saves and reloads too (probes, export).
        path = os.path.join(tmp_path, "encoder.keras")
        model.encoder.save(path)
        encoder = keras.saving.load_model(path)
        images = fashion_images.x[:4].astype("float32") / 255.0
        self.assert_allclose(encoder(images), model.encoder(images), atol=1e-5)

    def test_config_round_trip(self):
        model = tiny(image_shape=(8, 8, 3), patch_size=4, mask_ratio=0.5)
        restored = self.assert_serialization_round_trip(model)
        assert "encoder" not in model.get_config()
        assert restored.image_shape == (8, 8, 3)
        assert restored.num_visible == 2
        assert Patchify(4)(np.zeros((1, 8, 8, 3))).shape[1] == restored.num_patches

    @pytest.mark.parametrize(
        "kwargs, argument",
        [
            ({"mask_ratio": 0.0}, "mask_ratio"),
            ({"mask_ratio": 1.0}, "mask_ratio"),
            ({"patch_size": 5}, "patch_size"),
            ({"patch_size": 28}, "patch_size"),
            ({"image_shape": (28, 28)}, "image_shape"),
            ({"encoder_dim": 15}, "encoder_dim"),
            ({"depth": 0}, "depth"),
            ({"encoder": keras.Sequential()}, "encoder"),
        ],
    )
    def test_bad_arguments(self, kwargs, argument):
        with pytest.raises(ValueError, match=argument):
            tiny(**kwargs)

    def test_wrong_image_size_is_refused(self):
        with pytest.raises(ValueError, match="image_shape"):
            tiny().compute_objective(np.zeros((2, 32, 32, 1), "float32"))
