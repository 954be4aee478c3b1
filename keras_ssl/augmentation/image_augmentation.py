"""`ImageAugmentation`: the base of the image augmentation layers."""

import keras


class ImageAugmentation(keras.layers.Layer):
    """A Keras layer that computes in float32 unless given another `dtype`.

    Augmentations do pixel arithmetic (crops by interpolation, colour
    factors, blur kernels) that gains nothing from bfloat16 or float16 and
    loses precision in it. Under a mixed precision global policy
    (`keras_ssl.distribute.set_mixed_precision`) they therefore still
    compute in float32; the encoder that receives the views casts them to
    its own compute dtype.

    Args:
        **kw: passed to `keras.layers.Layer`; `dtype` defaults to
            `"float32"` instead of the global policy.
    """

    def __init__(self, **kw):
        kw.setdefault("dtype", "float32")
        super().__init__(**kw)
