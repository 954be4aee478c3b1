"""DeepCluster: k-means pseudo-labels, re-computed every epoch."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_ssl.augmentation.view_augmenter import ViewAugmenter
from keras_ssl.models.image_inputs import prepare_images
from keras_ssl.models.ssl_model import SSLModel
from keras_ssl.models.two_view_model import check_vector_encoder


@keras.saving.register_keras_serializable(package="keras_ssl")
class DeepCluster(SSLModel):
    """DeepCluster: classify augmented images into their k-means cluster.

    At the start of every epoch the encoder embeds the whole training set,
    scikit-learn's k-means (which re-seeds empty clusters itself) groups the
    L2-normalised embeddings into `num_clusters` clusters, the cluster ids
    become the pseudo-labels, and the classifier head is re-initialised
    (from the model's own `keras.random.SeedGenerator`, whose state is saved
    with the model and by `RunCheckpoint`, so a resumed run re-initialises
    it exactly as an uninterrupted one; no global random state is read).
    During the epoch the model learns to predict the pseudo-label of an
    augmented view of each image. Use `make_training_data` to get the
    `tf.data` pipeline and the callback that does the re-clustering:

    ```python
    model = DeepCluster(conv_encoder((28, 28, 1)), num_clusters=100)
    model.compile(optimizer="adam")
    data, reclustering = model.make_training_data(images, batch_size=256)
    model.fit(data, epochs=5, callbacks=[reclustering])
    ```

    Metrics: `loss`, `cluster_accuracy` (agreement with the pseudo-labels).

    Args:
        encoder: `keras.Model` from images in `[0, 1]` to `(batch, dim)`.
        num_clusters: k of k-means, >= 2.
        augmenter: view augmenter (default `ViewAugmenter`).
        seed: seed of the augmenter, of k-means and of the head
            re-initialisation. With `None`, k-means draws from NumPy's
            global generator: pass a seed for reproducible (and exactly
            resumable) runs.

    Reference:
        [Caron et al., 2018](https://arxiv.org/abs/1807.05520)
    """

    # `.keras` files written before the head had its own generator hold
    # only the augmenter's states.
    added_seed_generators = ("head_seed_generator",)

    def __init__(self, encoder, num_clusters=100, augmenter=None, seed=None, **kw):
        super().__init__(encoder, **kw)
        check_vector_encoder(encoder)
        if (
            isinstance(num_clusters, bool)
            or not isinstance(num_clusters, int)
            or (num_clusters < 2)
        ):
            raise ValueError(
                "Argument `num_clusters` must be an int >= 2. "
                f"Received: num_clusters={num_clusters!r}"
            )
        self.num_clusters = num_clusters
        self.seed = seed
        if augmenter is None:
            augmenter = ViewAugmenter(
                tuple(encoder.input_shape[1:3]),
                channels=encoder.input_shape[-1],
                seed=seed,
            )
        self.augmenter = augmenter
        self.head = keras.layers.Dense(num_clusters, name="cluster_head")
        self.head.build(encoder.output_shape)
        # Its own stream for `reset_head`, apart from the augmenter's
        # sub-seeds (`seed * 7919 + k`, k small).
        self.head_seed_generator = keras.random.SeedGenerator(
            None if seed is None else seed * 7919 + 7918,
            name="head_seed_generator",
        )
        self.cluster_accuracy = keras.metrics.Mean(name="cluster_accuracy")
        self.build()

    def call(self, images, training=False):
        return self.encoder(prepare_images(images), training=training)

    def unpack_inputs(self, data):
        if not isinstance(data, tuple | list) or len(data) < 2:
            raise ValueError(
                "DeepCluster trains on (images, pseudo_labels) batches. Use "
                "`model.make_training_data(images, batch_size)`."
            )
        return data[0], data[1]

    def compute_objective(self, inputs, training=False):
        images, labels = inputs
        views = self.augmenter(prepare_images(images), training=True)
        logits = self.head(self.encoder(views, training=training))
        labels = ops.cast(labels, "int32")
        per_example = ops.sparse_categorical_crossentropy(
            labels, logits, from_logits=True
        )
        correct = ops.cast(
            ops.cast(ops.argmax(logits, axis=-1), "int32") == labels, "float32"
        )
        return ops.sum(per_example), ops.shape(labels)[0], {"correct": correct}

    def method_metrics(self):
        return [self.cluster_accuracy]

    def update_method_metrics(self, outputs):
        self.cluster_accuracy.update_state(outputs["correct"])

    def reset_head(self):
        """Re-initialises the classifier head (new clusters, new classes).

        The kernel is drawn (Glorot uniform) from `head_seed_generator`, so
        successive resets differ and a run with a `seed` is reproducible.
        """
        kernel, bias = self.head.kernel, self.head.bias
        initializer = keras.initializers.GlorotUniform(seed=self.head_seed_generator)
        kernel.assign(initializer(kernel.shape, dtype=kernel.dtype))
        bias.assign(ops.zeros(bias.shape))

    def make_training_data(self, images, batch_size=256, shuffle_seed=None):
        """Returns `(dataset, callback)` for `fit`: images with live pseudo-labels.

        The dataset reads the pseudo-labels from a variable that the callback
        rewrites at the start of every epoch.
        """
        images = np.asarray(images)
        if len(images) < self.num_clusters:
            raise ValueError(
                "DeepCluster needs at least `num_clusters` images. Received: "
                f"{len(images)} images, num_clusters={self.num_clusters}"
            )
        labels = tf.Variable(tf.zeros(len(images), tf.int32), trainable=False)
        data = (
            tf.data.Dataset.from_tensor_slices((images, tf.range(len(images))))
            .shuffle(len(images), seed=shuffle_seed)
            .batch(batch_size, drop_remainder=True)
            # No prefetch: labels are read when a batch is requested, so a
            # batch never carries the previous epoch's clusters.
            .map(lambda x, i: (x, tf.gather(labels, i)))
        )
        return data, Reclustering(images, labels, self.num_clusters, self.seed)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_clusters=self.num_clusters,
            augmenter=keras.saving.serialize_keras_object(self.augmenter),
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["augmenter"] = keras.saving.deserialize_keras_object(config["augmenter"])
        return super().from_config(config)


class Reclustering(keras.callbacks.Callback):
    """Runs k-means on the embeddings at each epoch start (see DeepCluster)."""

    def __init__(self, images, labels, num_clusters, seed=None, batch_size=512):
        super().__init__()
        self.images, self.labels = images, labels
        self.num_clusters, self.seed, self.batch_size = num_clusters, seed, batch_size
        self.history = []

    def on_epoch_begin(self, epoch, logs=None):
        from sklearn.cluster import KMeans

        features = self.model.predict(
            self.images, batch_size=self.batch_size, verbose=0
        )
        features /= np.linalg.norm(features, axis=1, keepdims=True) + 1e-8
        kmeans = KMeans(self.num_clusters, n_init=1, random_state=self.seed)
        assignment = kmeans.fit_predict(features)
        self.labels.assign(assignment.astype("int32"))
        self.model.reset_head()
        self.history.append(np.bincount(assignment, minlength=self.num_clusters))
