"""The default view pipeline: crop, flip, colour jitter, and per image size
and channel count (`view_preset`) hue, greyscale and blur."""

import keras
from keras import ops

from keras_ssl.augmentation.image_augmentation import ImageAugmentation
from keras_ssl.augmentation.presets import view_preset
from keras_ssl.augmentation.random_color_jitter import RandomColorJitter
from keras_ssl.augmentation.random_gaussian_blur import RandomGaussianBlur
from keras_ssl.augmentation.random_grayscale import RandomGrayscale
from keras_ssl.augmentation.random_horizontal_flip import RandomHorizontalFlip
from keras_ssl.augmentation.random_hue_saturation import RandomHueSaturation
from keras_ssl.augmentation.random_resized_crop import RandomResizedCrop
from keras_ssl.augmentation.validation import check_image_size
from keras_ssl.checks import check_fraction, check_images

#: Settings a file written before `view_preset` lacks: that augmenter had
#: none of these steps.
_LEGACY_OFF = {
    "hue": 0.0,
    "saturation": 0.0,
    "grayscale_probability": 0.0,
    "blur_probability": 0.0,
}


def _subseed(seed, k):
    return None if seed is None else seed * 7919 + k


def _check_channels(channels):
    if channels is not None and (channels not in (1, 3) or isinstance(channels, bool)):
        raise ValueError(
            "Argument `channels` must be 1 (greyscale), 3 (RGB) or None. "
            f"Received: channels={channels!r}"
        )
    return channels


@keras.saving.register_keras_serializable(package="keras_ssl")
class ViewAugmenter(ImageAugmentation):
    """Makes one random view of a batch of images in `[0, 1]`.

    Random resized crop → horizontal flip → brightness/contrast jitter →
    (RGB only) hue/saturation jitter and greyscale → Gaussian blur, each
    drawn independently per image and per call, so calling the layer twice
    on the same batch gives the two views of SimCLR. All on-graph; works
    inside a model's `train_step` and inside `tf.data.Dataset.map`.

    Settings left at `None` come from
    `keras_ssl.augmentation.presets.view_preset(image_size, channels)`
    (`describe_view_presets()` shows them as a table): crop area 0.25-1 for
    images of 32 pixels or less (tuned on 28x28 Fashion-MNIST), 0.14-1 up
    to 96 pixels, 0.08-1 above; no blur at 32 pixels or less, blur with
    probability 0.5 above; hue/saturation jitter and greyscale only for
    `channels=3`. With `channels=None` the RGB-only steps are left out.
    A 28x28 greyscale view is therefore crop (0.25-1), flip and jitter, as
    it always was.

    Args:
        image_size: `(height, width)` of the output views.
        crop_scale: `(min, max)` area fraction of the random crop
            (`None`: the preset's).
        flip_probability: chance of a horizontal flip.
        brightness: max brightness offset of the jitter.
        contrast: max relative contrast change of the jitter.
        jitter_probability: chance an image is jittered (also the chance
            of the hue/saturation jitter).
        channels: 1, 3 or `None` (unknown: no RGB-only step), the channel
            count of the images.
        hue: max hue shift, a fraction of a turn (RGB only; `None`: the
            preset's, 0.1 for RGB).
        saturation: max relative saturation change (RGB only; `None`: the
            preset's, 0.4 for RGB).
        grayscale_probability: chance an image turns grey (RGB only;
            `None`: the preset's, 0.2 for RGB).
        blur_probability: chance an image is blurred (`None`: the preset's,
            0.5 over 32 pixels, else 0).
        seed: int seed.

    Example:

    >>> augment = ViewAugmenter((28, 28), seed=0)
    >>> images = keras.random.uniform((4, 28, 28, 1))
    >>> view_1, view_2 = augment(images), augment(images)
    >>> rgb = ViewAugmenter((96, 96), channels=3, seed=0)
    >>> [type(layer).__name__ for layer in rgb.steps]
    ['RandomResizedCrop', 'RandomHorizontalFlip', 'RandomColorJitter', \
'RandomHueSaturation', 'RandomGrayscale', 'RandomGaussianBlur']

    Reference:
        [Chen et al., 2020](https://arxiv.org/abs/2002.05709)
    """

    def __init__(
        self,
        image_size,
        crop_scale=None,
        flip_probability=0.5,
        brightness=0.4,
        contrast=0.4,
        jitter_probability=0.8,
        seed=None,
        channels=None,
        hue=None,
        saturation=None,
        grayscale_probability=None,
        blur_probability=None,
        **kw,
    ):
        super().__init__(**kw)
        self.image_size = check_image_size(image_size)
        self.channels = _check_channels(channels)
        self.seed = seed
        preset = view_preset(self.image_size, 3 if channels == 3 else 1)
        rgb_only = {
            "hue": hue,
            "saturation": saturation,
            "grayscale_probability": grayscale_probability,
        }
        for name, value in rgb_only.items():
            if channels != 3 and value:
                raise ValueError(
                    f"Argument `{name}` needs RGB images (channels=3). "
                    f"Received: {name}={value!r} with channels={channels!r}"
                )
        self.crop = RandomResizedCrop(
            *self.image_size,
            scale=preset["crop_scale"] if crop_scale is None else crop_scale,
            seed=_subseed(seed, 1),
        )
        self.flip = RandomHorizontalFlip(flip_probability, seed=_subseed(seed, 2))
        self.jitter = RandomColorJitter(
            brightness, contrast, jitter_probability, seed=_subseed(seed, 3)
        )
        self.hue = check_fraction("hue", preset["hue"] if hue is None else hue, 0, 0.5)
        self.saturation = check_fraction(
            "saturation", preset["saturation"] if saturation is None else saturation
        )
        self.grayscale_probability = check_fraction(
            "grayscale_probability",
            preset["grayscale_probability"]
            if grayscale_probability is None
            else grayscale_probability,
        )
        self.blur_probability = check_fraction(
            "blur_probability",
            preset["blur_probability"]
            if blur_probability is None
            else blur_probability,
        )
        # The steps past the jitter exist only when they act, so a view
        # without them holds no extra random generators.
        self.hue_saturation = None
        if self.hue or self.saturation:
            self.hue_saturation = RandomHueSaturation(
                self.hue,
                self.saturation,
                probability=jitter_probability,
                seed=_subseed(seed, 4),
            )
        self.grayscale = None
        if self.grayscale_probability:
            self.grayscale = RandomGrayscale(
                self.grayscale_probability, seed=_subseed(seed, 5)
            )
        self.blur = None
        if self.blur_probability:
            self.blur = RandomGaussianBlur(
                preset["blur_kernel_size"],
                sigma=(0.1, 2.0),
                probability=self.blur_probability,
                seed=_subseed(seed, 6),
            )

    @property
    def steps(self):
        """The augmentation layers, in the order they are applied."""
        optional = (self.hue_saturation, self.grayscale, self.blur)
        return [self.crop, self.flip, self.jitter] + [
            layer for layer in optional if layer is not None
        ]

    def build(self, input_shape=None):
        self.built = True  # the sub-layers hold no weights

    def call(self, images, training=True):
        check_images("images", images)
        if self.channels is not None and images.shape[-1] != self.channels:
            raise ValueError(
                f"This ViewAugmenter was made for images with {self.channels} "
                f"channel(s). Received: images.shape={tuple(images.shape)}"
            )
        images = ops.cast(images, self.compute_dtype)
        if not training:
            return self.crop(images, training=False)
        x = images
        for layer in self.steps:
            x = layer(x, training=True)
        return x

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.image_size, input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            image_size=self.image_size,
            crop_scale=self.crop.scale,
            flip_probability=self.flip.probability,
            brightness=self.jitter.brightness,
            contrast=self.jitter.contrast,
            jitter_probability=self.jitter.probability,
            seed=self.seed,
            channels=self.channels,
            hue=self.hue,
            saturation=self.saturation,
            grayscale_probability=self.grayscale_probability,
            blur_probability=self.blur_probability,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "blur_probability" not in config:
            # Written before the presets: crop, flip and jitter only.
            config.update(_LEGACY_OFF)
        return cls(**config)
