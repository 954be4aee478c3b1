import random

import keras
import numpy as np
import pytest

from keras_ssl.datasets import load
from keras_ssl.encoders import conv_encoder
from keras_ssl.models import DeepCluster
from keras_ssl.testing import TestCase


@pytest.fixture(scope="module")
def images():
    return load("fashion_mnist", split="test").subset(128, seed=0).x


def tiny(num_clusters=4, seed=0):
    keras.utils.set_random_seed(seed)
    return DeepCluster(
        conv_encoder((28, 28, 1), widths=(4, 8)), num_clusters=num_clusters, seed=seed
    )


class TestDeepCluster(TestCase):
    def test_fit_reclusters_every_epoch_and_feeds_live_labels(self, images):
        model = tiny()
        model.compile(optimizer="adam", jit_compile=False)
        data, reclustering = model.make_training_data(images, 32, shuffle_seed=0)
        history = model.fit(data, epochs=2, callbacks=[reclustering], verbose=0)
        assert set(history.history) == {"loss", "cluster_accuracy"}
        assert len(reclustering.history) == 2
        assert all(counts.sum() == len(images) for counts in reclustering.history)
        # Batches carry the current pseudo-label of each image.
        labels = reclustering.labels.numpy()
        assert labels.min() >= 0 and labels.max() < 4
        batch_images, batch_labels = next(iter(data))
        for image, label in zip(batch_images.numpy()[:8], batch_labels.numpy()[:8]):
            index = np.flatnonzero((images == image).all(axis=(1, 2, 3)))[0]
            assert labels[index] == label

    def test_reset_head_reinitialises(self):
        model = tiny()
        model.head.bias.assign(np.ones(4, "float32"))
        before = np.array(model.head.kernel)
        model.reset_head()
        np.testing.assert_array_equal(np.array(model.head.bias), np.zeros(4))
        assert not np.allclose(np.array(model.head.kernel), before)

    def test_reset_head_draws_from_its_own_seeded_generator(self):
        model = tiny()
        random.seed(3)
        np.random.seed(3)
        expected = (random.random(), np.random.random())
        random.seed(3)
        np.random.seed(3)
        state = np.array(model.head_seed_generator.state)
        model.reset_head()
        first = np.array(model.head.kernel)
        # Python's and NumPy's global generators are left alone.
        assert (random.random(), np.random.random()) == expected
        model.reset_head()
        assert not np.allclose(np.array(model.head.kernel), first)
        # The generator's state (saved by checkpoints and `.keras` files)
        # determines the next reset: what exact resume relies on.
        model.head_seed_generator.state.assign(state)
        model.reset_head()
        np.testing.assert_array_equal(np.array(model.head.kernel), first)
        # Another model with the same seed resets its head identically.
        other = tiny()
        other.reset_head()
        np.testing.assert_array_equal(np.array(other.head.kernel), first)

    def test_keras_round_trip(self, images, tmp_path):
        model = tiny()
        model.compile(optimizer="adam", jit_compile=False)
        self.assert_keras_round_trip(model, images[:4], tmp_path)

    def test_bad_inputs(self, images):
        with pytest.raises(ValueError, match="num_clusters"):
            tiny(num_clusters=1)
        with pytest.raises(ValueError, match="at least `num_clusters` images"):
            tiny(num_clusters=4).make_training_data(images[:3])
        model = tiny()
        model.compile(optimizer="adam", jit_compile=False)
        with pytest.raises(ValueError, match="make_training_data"):
            model.fit(images[:32], batch_size=16, epochs=1, verbose=0)
