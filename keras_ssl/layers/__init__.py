"""Building blocks: heads and pooling."""

from keras_ssl.layers.masked_mean_pooling import MaskedMeanPooling
from keras_ssl.layers.mlm_head import MLMHead
from keras_ssl.layers.projection_head import ProjectionHead

__all__ = ["MLMHead", "MaskedMeanPooling", "ProjectionHead"]
