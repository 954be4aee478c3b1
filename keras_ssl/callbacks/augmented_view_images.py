"""A grid of the model's own augmented views, written to TensorBoard."""

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.callbacks import _monitoring as m
from keras_ssl.checks import check_seed


def image_augmenter(model):
    """The image augmenter of `model`, or `None` when it has none."""
    augmenter = getattr(model, "augmenter", None)
    shape = getattr(getattr(model, "encoder", None), "input_shape", None)
    if isinstance(augmenter, keras.layers.Layer) and (
        isinstance(shape, tuple) and len(shape) == 4
    ):
        return augmenter
    return None


class AugmentedViewImages(m.EpochSummaryCallback):
    """Writes the views the model's augmenter makes of a few images.

    Every `every` epochs, one image summary `tag`: the first row holds the
    images, the next `num_views` rows each one random view of every image,
    drawn by the model's own augmenter (`model.augmenter`, as in
    training). It shows what the model is asked to match: views that are too
    weak make the task trivial, views that destroy the object make it
    impossible.

    For image models with an augmenter: the two-view methods (`SimCLR`,
    `MoCo`, `BYOL`, `SimSiam`, `BarlowTwins`, `VICReg`, `TripletModel`) and
    `DeepCluster`. The views are drawn with the augmenter's random
    generators set from `seed` and the epoch, and their training state is
    put back afterwards, so turning the callback on does not change the
    training run.

    Args:
        images: `(n, height, width, channels)` uint8 or float in `[0, 1]`,
            of the encoder's input size.
        log_dir: folder of the TensorBoard run to write to.
        max_images: how many of `images` to show (columns).
        num_views: random views per image (rows after the first), >= 1.
        every: write every `every` epochs.
        seed: seed of the views.
        tag: name of the image summary.

    Example:

    >>> model.fit(images, epochs=3, callbacks=[  # doctest: +SKIP
    ...     AugmentedViewImages(images[:8], "logs/monitor")])
    """

    def __init__(
        self,
        images,
        log_dir,
        max_images=8,
        num_views=2,
        every=1,
        seed=0,
        tag="augmented_views",
    ):
        super().__init__(log_dir, every)
        max_images = m.check_positive_int("max_images", max_images)
        self.images = m.image_array(images)[:max_images]
        self.num_views = m.check_positive_int("num_views", num_views)
        self.seed = check_seed(seed)
        self.tag = str(tag)

    def set_model(self, model):
        if image_augmenter(model) is None:
            raise ValueError(
                "AugmentedViewImages needs an image model with an augmenter "
                "(`model.augmenter`): SimCLR, MoCo, BYOL, SimSiam, BarlowTwins, "
                "VICReg, TripletModel or DeepCluster. Received: model of type "
                f"{type(model).__name__}"
            )
        m.check_image_model_inputs(model, self.images, "images", "AugmentedViewImages")
        super().set_model(model)

    def make_grid(self, epoch=0):
        """The `(1, H, W, channels)` grid for `epoch`: images, then views."""
        augmenter = image_augmenter(self.model)
        images = m.as_unit_float(self.images)
        views = []
        with m.fixed_random_state(augmenter, self.seed, stream=epoch):
            for _ in range(self.num_views):
                view = augmenter(tf.constant(images), training=True)
                views.append(np.asarray(keras.ops.convert_to_numpy(view)))
        if views[0].shape[1:3] != images.shape[1:3]:
            images = tf.image.resize(images, views[0].shape[1:3]).numpy()
        return m.image_grid([images, *views])

    def write_summaries(self, epoch):
        tf.summary.image(
            self.tag,
            self.make_grid(epoch),
            step=epoch,
            description=(
                f"Row 1: {len(self.images)} images; rows 2-{self.num_views + 1}: "
                "random views from the model's augmenter."
            ),
        )
