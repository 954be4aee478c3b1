"""Several random views of one batch of images."""

import keras

from keras_ssl.augmentation.image_augmentation import ImageAugmentation
from keras_ssl.checks import check_images


@keras.saving.register_keras_serializable(package="keras_ssl")
class MultiView(ImageAugmentation):
    """Makes a list of random views of a batch of images.

    Either one augmenter applied `num_views` times (symmetric views, as in
    SimCLR; each call draws fresh randomness, so the views differ), or a
    list of augmenters, one per view (asymmetric views, as in BYOL, whose
    two pipelines differ in blur and solarization).

    Args:
        augmenters: a Keras layer, or a list of at least two layers.
        num_views: number of views. For a single augmenter an int >= 2
            (default 2); for a list it defaults to, and must equal, its
            length.

    Example:

    >>> from keras_ssl.augmentation import ViewAugmenter
    >>> views = MultiView(ViewAugmenter((28, 28), seed=0))
    >>> view_1, view_2 = views(keras.random.uniform((4, 28, 28, 1)))
    >>> view_1.shape
    TensorShape([4, 28, 28, 1])

    Reference:
        [Chen et al., 2020](https://arxiv.org/abs/2002.05709);
        [Grill et al., 2020](https://arxiv.org/abs/2006.07733)
    """

    def __init__(self, augmenters, num_views=None, **kw):
        super().__init__(**kw)
        if num_views is not None and (
            not isinstance(num_views, int) or isinstance(num_views, bool)
        ):
            raise ValueError(
                "Argument `num_views` must be an int. "
                f"Received: num_views={num_views!r}"
            )
        if isinstance(augmenters, keras.layers.Layer):
            num_views = 2 if num_views is None else num_views
            if num_views < 2:
                raise ValueError(
                    "Argument `num_views` must be at least 2: a two-view method "
                    f"needs at least two views. Received: num_views={num_views}"
                )
            self.shared = True
        elif isinstance(augmenters, list | tuple) and all(
            isinstance(a, keras.layers.Layer) for a in augmenters
        ):
            if len(augmenters) < 2:
                raise ValueError(
                    "Argument `augmenters` must hold at least 2 layers: a two-view "
                    "method needs at least two views. Received: "
                    f"augmenters={augmenters!r}"
                )
            if num_views is not None and num_views != len(augmenters):
                raise ValueError(
                    "Argument `num_views` must equal the number of augmenters "
                    f"({len(augmenters)}) when a list is given. "
                    f"Received: num_views={num_views}"
                )
            num_views = len(augmenters)
            self.shared = False
            augmenters = list(augmenters)
        else:
            raise ValueError(
                "Argument `augmenters` must be a Keras layer or a list of Keras "
                f"layers. Received: augmenters={augmenters!r}"
            )
        self.augmenters = augmenters
        self.num_views = num_views

    def _views(self):
        if self.shared:
            return [self.augmenters] * self.num_views
        return list(self.augmenters)

    def build(self, input_shape=None):
        for layer in self._views():
            if not layer.built and input_shape is not None:
                layer.build(input_shape)
        self.built = True

    def call(self, images, training=True):
        check_images("images", images)
        return [layer(images, training=training) for layer in self._views()]

    def compute_output_shape(self, input_shape):
        return [layer.compute_output_shape(input_shape) for layer in self._views()]

    def get_config(self):
        config = super().get_config()
        if self.shared:
            augmenters = keras.saving.serialize_keras_object(self.augmenters)
        else:
            augmenters = [
                keras.saving.serialize_keras_object(x) for x in self.augmenters
            ]
        config.update(augmenters=augmenters, num_views=self.num_views)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        augmenters = config["augmenters"]
        if isinstance(augmenters, list):
            augmenters = [keras.saving.deserialize_keras_object(x) for x in augmenters]
        else:
            augmenters = keras.saving.deserialize_keras_object(augmenters)
        config["augmenters"] = augmenters
        return cls(**config)
