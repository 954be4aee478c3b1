"""Shared logic of the image methods: ConvNet encoder, images as examples."""

import tensorflow as tf

from keras_ssl.datasets import StreamedData
from keras_ssl.datasets.streaming_sources import check_min_side
from keras_ssl.encoders import conv_encoder
from keras_ssl.recipes.encoder_source import OWN_IMAGE_ENCODER, image_encoder
from keras_ssl.recipes.recipe import Pretext, Recipe


def two_view_search_space(temperature=False):
    """The tune-pretraining search space of a two-view image method.

    `{name: ((low, high), sampling)}`: the peak learning rate, the softmax
    temperature (contrastive methods only), the random crop's smallest area
    fraction and the colour-jitter strength.
    """
    space = {"learning_rate": ((1e-4, 1e-2), "log")}
    if temperature:
        space["temperature"] = ((0.05, 0.5), "log")
    space["crop_scale_min"] = ((0.08, 0.6), "linear")
    space["jitter_strength"] = ((0.0, 0.8), "linear")
    return space


class ImageRecipe(Recipe):
    """An image method: images `(N, height, width, channels)` in, a model on
    a `keras_ssl.encoders.conv_encoder` (model settings `widths`,
    `blocks_per_stage`) out.

    Set `uses_conv_encoder = False` for a model that builds its own encoder
    (it then gets no positional encoder argument).
    """

    modality = "image"
    batch_size = 256
    learning_rate = 2e-3
    default_dataset = "fashion_mnist"
    panel = "reconstructions"
    uses_conv_encoder = True

    def check_images(self, data, dataset):
        """`data.x`, which must be a batch of images (for a stream: its
        `image_shape`)."""
        if isinstance(data, StreamedData):
            self.check_streamable(data, dataset)
            if data.modality != "image":
                raise ValueError(
                    f"{self.name} needs images. Received: dataset={dataset!r}, "
                    f"a stream of {data.modality}"
                )
            return None
        x = data.x
        if x.dtype == object or x.ndim != 4:
            raise ValueError(
                f"{self.name} needs images of shape (N, height, width, channels). "
                f"Received: dataset={dataset!r} with x.shape={x.shape}, "
                f"dtype={x.dtype}"
            )
        check_min_side(x.shape[1:], f"dataset={dataset!r}")
        return x

    def make_encoder(self, input_shape, kw):
        """keras_ssl's ConvNet encoder; pops its settings from `kw`."""
        return conv_encoder(
            input_shape,
            widths=tuple(kw.pop("widths", (32, 64, 128))),
            blocks_per_stage=kw.pop("blocks_per_stage", 0),
        )

    def encoder(self, context, input_shape):
        """The encoder `context.encoder` names (see
        `keras_ssl.recipes.encoder_source`), or keras_ssl's ConvNet."""
        if context.encoder in (None, OWN_IMAGE_ENCODER):
            return self.make_encoder(input_shape, context.model_kwargs)
        self.check_encoder(context, ("widths", "blocks_per_stage"))
        return image_encoder(context.encoder, input_shape, self.name)

    def build(self, data, context):
        if not self.uses_conv_encoder:
            self.check_encoder(context)
        x = self.check_images(data, context.dataset)
        streamed = x is None
        shape = tuple(data.image_shape) if streamed else tuple(x.shape[1:])
        num = data.num_examples if streamed else len(x)
        kw = context.model_kwargs
        encoder = None
        if self.uses_conv_encoder:
            encoder = self.encoder(context, shape)
        defaults = self.model_defaults(context.total_steps(num), shape)
        for key, value in defaults.items():
            kw.setdefault(key, value)
        args = () if encoder is None else (encoder,)
        model = self.model_class(*args, seed=context.seed, **kw)
        if streamed:
            return Pretext(
                model, None, num, stream=data, num_workers=context.num_workers
            )
        examples = tf.data.Dataset.from_tensor_slices(x)
        return Pretext(model, examples, len(x), source=x)


class TwoViewRecipe(ImageRecipe):
    """A two-view image method (a `TwoViewModel`): searchable by
    tune-pretraining, guarded against collapse, monitored by its views."""

    two_view = True
    panel = "views"
    search_space = two_view_search_space()
