"""On-graph, seeded augmentation layers: image views, token masking, text views."""

from keras_ssl.augmentation.augmentation_pipeline import AugmentationPipeline
from keras_ssl.augmentation.image_augmentation import ImageAugmentation
from keras_ssl.augmentation.multi_crop import MultiCrop
from keras_ssl.augmentation.multi_view import MultiView
from keras_ssl.augmentation.presets import byol_augmenters, simclr_augmenter
from keras_ssl.augmentation.random_color_jitter import RandomColorJitter
from keras_ssl.augmentation.random_gaussian_blur import RandomGaussianBlur
from keras_ssl.augmentation.random_grayscale import RandomGrayscale
from keras_ssl.augmentation.random_horizontal_flip import RandomHorizontalFlip
from keras_ssl.augmentation.random_hue_saturation import RandomHueSaturation
from keras_ssl.augmentation.random_resized_crop import RandomResizedCrop
from keras_ssl.augmentation.random_rotation import RandomRotation
from keras_ssl.augmentation.random_solarize import RandomSolarize
from keras_ssl.augmentation.random_span_crop import RandomSpanCrop
from keras_ssl.augmentation.random_token_deletion import RandomTokenDeletion
from keras_ssl.augmentation.random_token_swap import RandomTokenSwap
from keras_ssl.augmentation.synonym_replacement import SynonymReplacement
from keras_ssl.augmentation.token_masker import TokenMasker
from keras_ssl.augmentation.view_augmenter import ViewAugmenter

__all__ = [
    "AugmentationPipeline",
    "ImageAugmentation",
    "MultiCrop",
    "MultiView",
    "RandomColorJitter",
    "RandomGaussianBlur",
    "RandomGrayscale",
    "RandomHorizontalFlip",
    "RandomHueSaturation",
    "RandomResizedCrop",
    "RandomRotation",
    "RandomSolarize",
    "RandomSpanCrop",
    "RandomTokenDeletion",
    "RandomTokenSwap",
    "SynonymReplacement",
    "TokenMasker",
    "ViewAugmenter",
    "byol_augmenters",
    "simclr_augmenter",
]
