"""Ready-made view pipelines: SimCLR's symmetric one and BYOL's pair."""

from keras_ssl.augmentation.augmentation_pipeline import AugmentationPipeline
from keras_ssl.augmentation.random_color_jitter import RandomColorJitter
from keras_ssl.augmentation.random_gaussian_blur import RandomGaussianBlur
from keras_ssl.augmentation.random_grayscale import RandomGrayscale
from keras_ssl.augmentation.random_horizontal_flip import RandomHorizontalFlip
from keras_ssl.augmentation.random_hue_saturation import RandomHueSaturation
from keras_ssl.augmentation.random_resized_crop import RandomResizedCrop
from keras_ssl.augmentation.random_solarize import RandomSolarize
from keras_ssl.augmentation.validation import check_image_size

# Blur needs room: on smaller images (28x28 Fashion-MNIST) a 3x3 blur
# erases most of the detail the encoder has to learn from.
MIN_BLUR_SIDE = 32


def _subseed(seed, k):
    return None if seed is None else seed * 7919 + k


def _check_channels(channels):
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ValueError(
            "Argument `channels` must be 1 (greyscale) or 3 (RGB). "
            f"Received: channels={channels!r}"
        )
    return channels


def blur_kernel_size(image_size):
    """SimCLR's blur kernel: about 10% of the shorter side, odd, at least 3."""
    side = min(image_size)
    return max(3, int(0.1 * side) // 2 * 2 + 1)


def _colour_layers(channels, seed, saturation):
    """Colour jitter (p=0.8), and for RGB hue/saturation (p=0.8), grey (p=0.2)."""
    layers = [
        RandomColorJitter(0.4, 0.4, probability=0.8, seed=_subseed(seed, 3)),
    ]
    if channels == 3:
        layers += [
            RandomHueSaturation(
                hue=0.1, saturation=saturation, probability=0.8, seed=_subseed(seed, 4)
            ),
            RandomGrayscale(probability=0.2, seed=_subseed(seed, 5)),
        ]
    return layers


def simclr_augmenter(image_size, channels=1, seed=None):
    """SimCLR's view pipeline, applied the same way to both views.

    Random resized crop (area 0.25-1, milder than ImageNet's 0.08 for small
    images), horizontal flip, brightness/contrast jitter with probability
    0.8; for RGB images also hue/saturation jitter (p=0.8) and greyscale
    (p=0.2); a Gaussian blur (p=0.5, kernel about 10% of the side) only
    when both sides are at least 32 pixels.

    Args:
        image_size: `(height, width)` of the views.
        channels: 1 (greyscale) or 3 (RGB).
        seed: int seed; each layer gets its own seed derived from it.

    Returns:
        An `AugmentationPipeline`; call it twice for two views, or wrap it
        in `MultiView`.

    Example:

    >>> augment = simclr_augmenter((28, 28), channels=1, seed=0)
    >>> images = keras.random.uniform((4, 28, 28, 1))
    >>> view_1, view_2 = augment(images), augment(images)

    Reference:
        [Chen et al., 2020](https://arxiv.org/abs/2002.05709)
    """
    height, width = check_image_size(image_size)
    channels = _check_channels(channels)
    layers = [
        RandomResizedCrop(height, width, scale=(0.25, 1.0), seed=_subseed(seed, 1)),
        RandomHorizontalFlip(0.5, seed=_subseed(seed, 2)),
        *_colour_layers(channels, seed, saturation=0.4),
    ]
    if min(height, width) >= MIN_BLUR_SIDE:
        layers.append(
            RandomGaussianBlur(
                blur_kernel_size((height, width)),
                sigma=(0.1, 2.0),
                probability=0.5,
                seed=_subseed(seed, 6),
            )
        )
    return AugmentationPipeline(layers, name="simclr_augmenter")


def byol_augmenters(image_size, channels=1, seed=None):
    """BYOL's two asymmetric view pipelines.

    Both views: random resized crop (area 0.25-1), horizontal flip,
    brightness/contrast jitter (p=0.8); for RGB, hue/saturation jitter
    (hue 0.1, saturation 0.2, p=0.8) and greyscale (p=0.2). View 1 is always
    blurred and never solarized; view 2 is blurred with probability 0.1 and
    solarized with probability 0.2. The blur kernel is about 10% of the
    shorter side (at least 3).

    Args:
        image_size: `(height, width)` of the views.
        channels: 1 (greyscale) or 3 (RGB).
        seed: int seed; each layer gets its own seed derived from it.

    Returns:
        A list of two `AugmentationPipeline`s, one per view; wrap it in
        `MultiView` to get both views in one call.

    Example:

    >>> from keras_ssl.augmentation import MultiView
    >>> view_1_augment, view_2_augment = byol_augmenters((32, 32), 3, seed=0)
    >>> views = MultiView([view_1_augment, view_2_augment])
    >>> view_1, view_2 = views(keras.random.uniform((2, 32, 32, 3)))
    >>> view_2.shape
    TensorShape([2, 32, 32, 3])

    Reference:
        [Grill et al., 2020](https://arxiv.org/abs/2006.07733)
    """
    height, width = check_image_size(image_size)
    channels = _check_channels(channels)
    kernel_size = blur_kernel_size((height, width))
    pipelines = []
    for view, (blur_p, solarize_p) in enumerate(((1.0, 0.0), (0.1, 0.2)), start=1):
        view_seed = _subseed(seed, 10 * view)
        layers = [
            RandomResizedCrop(
                height, width, scale=(0.25, 1.0), seed=_subseed(view_seed, 1)
            ),
            RandomHorizontalFlip(0.5, seed=_subseed(view_seed, 2)),
            *_colour_layers(channels, view_seed, saturation=0.2),
            RandomGaussianBlur(
                kernel_size,
                sigma=(0.1, 2.0),
                probability=blur_p,
                seed=_subseed(view_seed, 6),
            ),
        ]
        if solarize_p > 0:
            layers.append(
                RandomSolarize(0.5, probability=solarize_p, seed=_subseed(view_seed, 7))
            )
        pipelines.append(AugmentationPipeline(layers, name=f"byol_view_{view}"))
    return pipelines
