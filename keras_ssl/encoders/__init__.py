"""Encoders: small ConvNets for images, Transformers for text."""

from keras_ssl.encoders.conv_encoder import conv_encoder
from keras_ssl.encoders.transformer_decoder import transformer_decoder
from keras_ssl.encoders.transformer_encoder import transformer_encoder

__all__ = ["conv_encoder", "transformer_decoder", "transformer_encoder"]
