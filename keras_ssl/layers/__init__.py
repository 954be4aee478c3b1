"""Building blocks: heads and pooling."""

from keras_ssl.layers.fused_batch_normalization import FusedBatchNormalization
from keras_ssl.layers.image_input_scaling import ImageInputScaling
from keras_ssl.layers.masked_mean_pooling import MaskedMeanPooling
from keras_ssl.layers.memory_bank import MemoryBank
from keras_ssl.layers.mlm_head import MLMHead
from keras_ssl.layers.patchify import Patchify
from keras_ssl.layers.projection_head import ProjectionHead
from keras_ssl.layers.random_patch_masking import RandomPatchMasking
from keras_ssl.layers.unpatchify import Unpatchify

__all__ = [
    "FusedBatchNormalization",
    "ImageInputScaling",
    "MLMHead",
    "MaskedMeanPooling",
    "MemoryBank",
    "Patchify",
    "ProjectionHead",
    "RandomPatchMasking",
    "Unpatchify",
]
