"""DeepCluster: classify augmented images into their k-means cluster."""

import tensorflow as tf

from keras_ssl.models import DeepCluster
from keras_ssl.recipes.image import ImageRecipe
from keras_ssl.recipes.recipe import TrainingStream
from keras_ssl.recipes.registry import register


class DeepClusterStream(TrainingStream):
    """DeepCluster's endless input stream, built afresh for each `fit`.

    Pseudo-labels come from k-means at each epoch start (the `Reclustering`
    callback, an epoch-start callback). They live in a variable the
    checkpoint saves, so a resumed epoch keeps its clusters instead of
    re-clustering mid-epoch. Each `make_training_data` call makes a new
    pseudo-label variable; the stream keeps one `Reclustering` callback and
    points it (and the checkpoint) at the variable of the newest dataset,
    which starts from the current labels.
    """

    def __init__(self, model, images, batch_size, seed):
        self.model, self.images = model, images
        self.batch_size, self.seed = batch_size, seed
        self._unused, self.reclustering = model.make_training_data(
            images, batch_size, seed
        )
        self.checkpoint = None
        super().__init__(
            self._make,
            epoch_start_callbacks=[self.reclustering],
            extra_variables=[self.reclustering.labels],
        )

    def attach(self, checkpoint):
        self.checkpoint = checkpoint

    def _make(self):
        if self._unused is not None:
            data, self._unused = self._unused, None
        else:
            data, fresh = self.model.make_training_data(
                self.images, self.batch_size, self.seed
            )
            fresh.labels.assign(self.reclustering.labels)
            self.reclustering.labels = fresh.labels
            if self.checkpoint is not None:
                self.checkpoint.extra_variables[0] = fresh.labels
        # tf.data's automatic prefetch would read the labels of the first
        # batch of an epoch before the epoch's re-clustering rewrote them
        # (stale pseudo-labels; measured with TF 2.21 unless op determinism
        # is enabled, which turns that optimisation off).
        options = tf.data.Options()
        options.experimental_optimization.inject_prefetch = False
        return data.repeat().with_options(options)


class DeepClusterRecipe(ImageRecipe):
    name = "deepcluster"
    streamable = False  # uses the whole dataset at once
    model_class = DeepCluster
    summary = "classify augmented images into their k-means cluster"
    panel = "views"

    def training_stream(self, pretext, batch_size, seed):
        return DeepClusterStream(pretext.model, pretext.source, batch_size, seed)


RECIPE = register(DeepClusterRecipe())
