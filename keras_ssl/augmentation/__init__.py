"""On-graph, seeded augmentation layers: image views and token masking."""

from keras_ssl.augmentation.random_color_jitter import RandomColorJitter
from keras_ssl.augmentation.random_horizontal_flip import RandomHorizontalFlip
from keras_ssl.augmentation.random_resized_crop import RandomResizedCrop
from keras_ssl.augmentation.token_masker import TokenMasker
from keras_ssl.augmentation.view_augmenter import ViewAugmenter

__all__ = [
    "RandomColorJitter",
    "RandomHorizontalFlip",
    "RandomResizedCrop",
    "TokenMasker",
    "ViewAugmenter",
]
