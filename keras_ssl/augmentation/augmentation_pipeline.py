"""A list of augmentation layers applied in order."""

import keras

from keras_ssl.augmentation.image_augmentation import ImageAugmentation
from keras_ssl.checks import check_images


@keras.saving.register_keras_serializable(package="keras_ssl")
class AugmentationPipeline(ImageAugmentation):
    """Applies a list of augmentation layers one after the other.

    Every layer is called with the same `training` flag, so a pipeline of
    random layers is the identity in inference, except for layers that
    resize (such as `RandomResizedCrop`). The layers are serialized through
    their own `get_config`, so a pipeline of registered layers round-trips
    through `get_config` / `from_config` and `.keras` files.

    Args:
        layers: a non-empty list of Keras layers, each mapping a batch of
            images to a batch of images.

    Example:

    >>> from keras_ssl.augmentation import RandomHorizontalFlip, RandomResizedCrop
    >>> augment = AugmentationPipeline(
    ...     [RandomResizedCrop(28, 28, seed=1), RandomHorizontalFlip(seed=2)]
    ... )
    >>> augment(keras.random.uniform((4, 28, 28, 1)), training=True).shape
    TensorShape([4, 28, 28, 1])

    Reference:
        [Chen et al., 2020](https://arxiv.org/abs/2002.05709)
    """

    def __init__(self, layers, **kw):
        super().__init__(**kw)
        if (
            not isinstance(layers, list | tuple)
            or not layers
            or not all(isinstance(layer, keras.layers.Layer) for layer in layers)
        ):
            raise ValueError(
                "Argument `layers` must be a non-empty list of Keras layers. "
                f"Received: layers={layers!r}"
            )
        self.pipeline = list(layers)

    def build(self, input_shape=None):
        shape = input_shape
        for layer in self.pipeline:
            if not layer.built and shape is not None:
                layer.build(shape)
            if shape is not None:
                shape = layer.compute_output_shape(shape)
        self.built = True

    def call(self, images, training=True):
        check_images("images", images)
        for layer in self.pipeline:
            images = layer(images, training=training)
        return images

    def compute_output_shape(self, input_shape):
        for layer in self.pipeline:
            input_shape = layer.compute_output_shape(input_shape)
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            layers=[keras.saving.serialize_keras_object(x) for x in self.pipeline]
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layers"] = [
            keras.saving.deserialize_keras_object(x) for x in config["layers"]
        ]
        return cls(**config)
