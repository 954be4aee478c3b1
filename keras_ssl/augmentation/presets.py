"""View settings per image size and channel count, and ready-made view
pipelines: SimCLR's symmetric one and BYOL's pair."""

from keras_ssl.augmentation.augmentation_pipeline import AugmentationPipeline
from keras_ssl.augmentation.random_color_jitter import RandomColorJitter
from keras_ssl.augmentation.random_gaussian_blur import RandomGaussianBlur
from keras_ssl.augmentation.random_grayscale import RandomGrayscale
from keras_ssl.augmentation.random_horizontal_flip import RandomHorizontalFlip
from keras_ssl.augmentation.random_hue_saturation import RandomHueSaturation
from keras_ssl.augmentation.random_resized_crop import RandomResizedCrop
from keras_ssl.augmentation.random_solarize import RandomSolarize
from keras_ssl.augmentation.validation import check_image_size, check_range

# Blur needs room: on images of 32 pixels or less (28x28 Fashion-MNIST,
# 32x32 CIFAR) even a 3x3 blur erases most of the detail the encoder has to
# learn from; SimCLR leaves it out on CIFAR-10 (Chen et al., 2020, B.9).
MIN_BLUR_SIDE = 33

#: Size bands of `view_preset`: `(name, largest shorter side or None,
#: random-crop area range, example)`.
SIZE_BANDS = (
    ("small", 32, (0.25, 1.0), "28x28 Fashion-MNIST, 32x32 CIFAR"),
    ("medium", 96, (0.14, 1.0), "64x64 Tiny ImageNet, 96x96 STL-10"),
    ("large", None, (0.08, 1.0), "224x224 ImageNet"),
)


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


def size_band(image_size):
    """The name of the size band of `(height, width)`: `"small"` (shorter
    side <= 32), `"medium"` (<= 96) or `"large"`."""
    side = min(check_image_size(image_size))
    for name, largest, _, _ in SIZE_BANDS:
        if largest is None or side <= largest:
            return name
    raise AssertionError("unreachable")  # the last band has no bound


def view_preset(image_size, channels=1):
    """The view-pipeline settings for images of this size and channel count.

    The default augmenters (`ViewAugmenter`, `simclr_augmenter`,
    `byol_augmenters`) take their settings from here:

    - random resized crop: area `(0.25, 1)` for images of 32 pixels or less
      (the setting tuned on 28x28 Fashion-MNIST; a smaller crop of a tiny
      image leaves a few pixels), `(0.14, 1)` up to 96 pixels, ImageNet's
      `(0.08, 1)` above;
    - horizontal flip (p=0.5) and brightness/contrast jitter (0.4, p=0.8)
      at every size and channel count;
    - RGB only: hue/saturation jitter (hue 0.1, saturation 0.4, p=0.8) and
      greyscale conversion (p=0.2), which mean nothing for one channel;
    - Gaussian blur (p=0.5, kernel about 10% of the shorter side) only
      when the shorter side is over 32 pixels.

    `describe_view_presets()` prints these as a table.

    Args:
        image_size: `(height, width)` of the views.
        channels: 1 (greyscale) or 3 (RGB).

    Returns:
        A dict with keys `band`, `crop_scale`, `flip_probability`,
        `brightness`, `contrast`, `jitter_probability`, `hue`, `saturation`,
        `grayscale_probability`, `blur_probability` and `blur_kernel_size`
        (probabilities of steps left out are 0).

    Example:

    >>> view_preset((28, 28), channels=1)["blur_probability"]
    0.0
    >>> preset = view_preset((96, 96), channels=3)
    >>> preset["crop_scale"], preset["hue"], preset["blur_kernel_size"]
    ((0.14, 1.0), 0.1, 9)
    """
    height, width = check_image_size(image_size)
    channels = _check_channels(channels)
    band = size_band((height, width))
    crop_scale = next(scale for name, _, scale, _ in SIZE_BANDS if name == band)
    rgb = channels == 3
    blur = min(height, width) >= MIN_BLUR_SIDE
    return {
        "band": band,
        "crop_scale": crop_scale,
        "flip_probability": 0.5,
        "brightness": 0.4,
        "contrast": 0.4,
        "jitter_probability": 0.8,
        "hue": 0.1 if rgb else 0.0,
        "saturation": 0.4 if rgb else 0.0,
        "grayscale_probability": 0.2 if rgb else 0.0,
        "blur_probability": 0.5 if blur else 0.0,
        "blur_kernel_size": blur_kernel_size((height, width)),
    }


def describe_view_presets():
    """The settings `view_preset` picks, as a markdown table.

    One row per size band and channel count; the README shows it.

    Returns:
        The table as a string (markdown).

    Example:

    >>> print(describe_view_presets().splitlines()[2])
    | <= 32 px | 28x28 Fashion-MNIST, 32x32 CIFAR | greyscale | 0.25-1 | p=0.5 | 0.4 / 0.4, p=0.8 | - | - | - |
    """  # noqa: E501
    lines = [
        "| shorter side | e.g. | channels | crop area | flip "
        "| brightness / contrast | hue / saturation | greyscale | blur |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lower = 1
    for _, largest, _, example in SIZE_BANDS:
        side = lower if largest is None else largest
        sides = f"<= {largest} px" if lower == 1 else f"{lower}-{largest} px"
        if largest is None:
            sides = f"> {lower - 1} px"
        for channels in (1, 3):
            preset = view_preset((side, side), channels)
            jitter = f"p={preset['jitter_probability']:g}"
            hue = f"{preset['hue']:g} / {preset['saturation']:g}, {jitter}"
            grey = f"p={preset['grayscale_probability']:g}"
            blur = f"p={preset['blur_probability']:g}, kernel ~ side / 10"
            low, high = preset["crop_scale"]
            cells = [
                sides,
                example,
                "RGB" if channels == 3 else "greyscale",
                f"{low:g}-{high:g}",
                f"p={preset['flip_probability']:g}",
                f"{preset['brightness']:g} / {preset['contrast']:g}, {jitter}",
                hue if preset["hue"] else "-",
                grey if preset["grayscale_probability"] else "-",
                blur if preset["blur_probability"] else "-",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lower = (largest or 0) + 1
    return "\n".join(lines)


def _colour_layers(preset, seed, saturation=None):
    """Brightness/contrast jitter and, for RGB, hue/saturation and grey."""
    layers = [
        RandomColorJitter(
            preset["brightness"],
            preset["contrast"],
            probability=preset["jitter_probability"],
            seed=_subseed(seed, 3),
        ),
    ]
    if preset["hue"] or preset["saturation"]:
        layers.append(
            RandomHueSaturation(
                hue=preset["hue"],
                saturation=preset["saturation"] if saturation is None else saturation,
                probability=preset["jitter_probability"],
                seed=_subseed(seed, 4),
            )
        )
    if preset["grayscale_probability"]:
        layers.append(
            RandomGrayscale(
                probability=preset["grayscale_probability"], seed=_subseed(seed, 5)
            )
        )
    return layers


def _preset(image_size, channels, crop_scale):
    preset = view_preset(image_size, channels)
    if crop_scale is not None:
        preset["crop_scale"] = check_range("crop_scale", crop_scale, 0.0, 1.0)
    return preset


def simclr_augmenter(image_size, channels=1, seed=None, crop_scale=None):
    """SimCLR's view pipeline, applied the same way to both views.

    The settings come from `view_preset(image_size, channels)`: random
    resized crop (area 0.25-1 up to 32 pixels, 0.14-1 up to 96, 0.08-1
    above), horizontal flip, brightness/contrast jitter with probability
    0.8; for RGB images also hue/saturation jitter (p=0.8) and greyscale
    (p=0.2); a Gaussian blur (p=0.5, kernel about 10% of the side) only
    when both sides are over 32 pixels.

    Args:
        image_size: `(height, width)` of the views.
        channels: 1 (greyscale) or 3 (RGB).
        seed: int seed; each layer gets its own seed derived from it.
        crop_scale: optional `(min, max)` area fraction of the random crop,
            instead of the preset's (e.g. for multi-crop's local views).

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
    preset = _preset((height, width), channels, crop_scale)
    layers = [
        RandomResizedCrop(
            height, width, scale=preset["crop_scale"], seed=_subseed(seed, 1)
        ),
        RandomHorizontalFlip(preset["flip_probability"], seed=_subseed(seed, 2)),
        *_colour_layers(preset, seed),
    ]
    if preset["blur_probability"]:
        layers.append(
            RandomGaussianBlur(
                preset["blur_kernel_size"],
                sigma=(0.1, 2.0),
                probability=preset["blur_probability"],
                seed=_subseed(seed, 6),
            )
        )
    return AugmentationPipeline(layers, name="simclr_augmenter")


def byol_augmenters(image_size, channels=1, seed=None, crop_scale=None):
    """BYOL's two asymmetric view pipelines.

    Both views: random resized crop (the area of `view_preset`: 0.25-1 up
    to 32 pixels, 0.14-1 up to 96, 0.08-1 above), horizontal flip,
    brightness/contrast jitter (p=0.8); for RGB, hue/saturation jitter
    (hue 0.1, saturation 0.2, p=0.8) and greyscale (p=0.2). Over 32
    pixels, view 1 is always blurred and view 2 with probability 0.1 (the
    kernel about 10% of the shorter side); smaller images are not blurred.
    View 2 is solarized with probability 0.2, view 1 never.

    Args:
        image_size: `(height, width)` of the views.
        channels: 1 (greyscale) or 3 (RGB).
        seed: int seed; each layer gets its own seed derived from it.
        crop_scale: optional `(min, max)` area fraction of the random crop,
            instead of the preset's.

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
    preset = _preset((height, width), channels, crop_scale)
    blur = preset["blur_probability"] > 0
    pipelines = []
    for view, (blur_p, solarize_p) in enumerate(((1.0, 0.0), (0.1, 0.2)), start=1):
        view_seed = _subseed(seed, 10 * view)
        layers = [
            RandomResizedCrop(
                height, width, scale=preset["crop_scale"], seed=_subseed(view_seed, 1)
            ),
            RandomHorizontalFlip(
                preset["flip_probability"], seed=_subseed(view_seed, 2)
            ),
            *_colour_layers(preset, view_seed, saturation=0.2),
        ]
        if blur:
            layers.append(
                RandomGaussianBlur(
                    preset["blur_kernel_size"],
                    sigma=(0.1, 2.0),
                    probability=blur_p,
                    seed=_subseed(view_seed, 6),
                )
            )
        if solarize_p > 0:
            layers.append(
                RandomSolarize(0.5, probability=solarize_p, seed=_subseed(view_seed, 7))
            )
        pipelines.append(AugmentationPipeline(layers, name=f"byol_view_{view}"))
    return pipelines
