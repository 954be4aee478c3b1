"""Self-supervised models: one shared training loop, one file per method."""

from keras_ssl.models.masked_language_model import MaskedLanguageModel
from keras_ssl.models.simclr import SimCLR
from keras_ssl.models.ssl_model import SSLModel

__all__ = ["MaskedLanguageModel", "SSLModel", "SimCLR"]
