"""Encoders: keras_ssl's small ConvNets and Transformers, and backbones from
Keras Applications and keras-hub wrapped to the same interface."""

from keras_ssl.encoders.backbone_registry import (
    IMAGE_BACKBONES,
    ImageBackboneSpec,
    build_image_encoder,
    describe_image_backbones,
    load_image_encoder,
)
from keras_ssl.encoders.conv_encoder import conv_encoder
from keras_ssl.encoders.image_backbone import image_encoder_from_backbone
from keras_ssl.encoders.presets import save_to_preset
from keras_ssl.encoders.text_backbone import (
    load_text_preset,
    text_encoder_from_backbone,
)
from keras_ssl.encoders.text_registry import (
    TEXT_BACKBONES,
    TextBackboneSpec,
    build_text_encoder,
)
from keras_ssl.encoders.transformer_decoder import transformer_decoder
from keras_ssl.encoders.transformer_encoder import transformer_encoder

__all__ = [
    "IMAGE_BACKBONES",
    "ImageBackboneSpec",
    "TEXT_BACKBONES",
    "TextBackboneSpec",
    "build_text_encoder",
    "build_image_encoder",
    "conv_encoder",
    "describe_image_backbones",
    "image_encoder_from_backbone",
    "load_image_encoder",
    "load_text_preset",
    "save_to_preset",
    "text_encoder_from_backbone",
    "transformer_decoder",
    "transformer_encoder",
]
