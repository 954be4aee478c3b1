"""Multi-crop views: two global crops and several small local crops."""

import keras
from keras import ops

from keras_ssl.augmentation.image_augmentation import ImageAugmentation
from keras_ssl.augmentation.validation import check_image_size, check_range
from keras_ssl.augmentation.view_augmenter import ViewAugmenter
from keras_ssl.checks import check_images, is_int

#: Number of global crops: the views a teacher (DINO) or the swapped
#: assignments (SwAV) are computed from.
NUM_GLOBAL = 2


def _subseed(seed, k):
    return None if seed is None else seed * 7919 + k


def default_local_size(image_size):
    """The side of the local crops: 3/7 of the image's (96 px at 224 px, as in
    DINO and SwAV; 12 px at 28 px), at least 4 px and at most the image's.

    Example:

    >>> default_local_size((28, 28))
    (12, 12)
    """
    height, width = check_image_size(image_size)
    return tuple(min(side, max(4, round(side * 3 / 7))) for side in (height, width))


@keras.saving.register_keras_serializable(package="keras_ssl")
class MultiCrop(ImageAugmentation):
    """Two global crops and `num_local` local crops of a batch of images.

    The global crops have the input resolution `image_size` and cover a
    large part of the image (`global_scale` of its area); the local crops
    are smaller (`local_size`) and cover a small part (`local_scale`). Each
    crop is followed by the colour and flip augmentations of `ViewAugmenter`
    (horizontal flip, brightness/contrast jitter), drawn independently per
    image and per view. Matching the local crops to the global ones teaches
    "local-to-global" correspondence at a small cost: a 12x12 local crop of
    a 28x28 image costs a ConvNet about a fifth of a global one.

    The views of each kind are drawn in one batched call, so the layer runs
    on-graph, inside `tf.data` and under XLA (`jit_compile=True`); its
    randomness comes from seeded generators only.

    The output is the list `[global_1, global_2, local_1, ..., local_k]`:
    the first two views are the global crops (the contract DINO and SwAV
    rely on). `encode_by_resolution` runs an encoder once per resolution
    over such a list.

    Args:
        image_size: `(height, width)` of the global crops (the encoder's
            input size).
        num_local: number of local crops, an int >= 0.
        local_size: `(height, width)` of the local crops; defaults to
            `default_local_size(image_size)` (3/7 of the side: 12x12 for
            28x28 images, 96x96 for 224x224).
        global_scale: `(min, max)` area fraction of the global crops. The
            default `(0.4, 1.0)` is DINO's; `ViewAugmenter`'s `(0.25, 1.0)`
            suits a method without local crops on small images.
        local_scale: `(min, max)` area fraction of the local crops.
        flip_probability: chance of a horizontal flip.
        brightness: max brightness offset of the jitter.
        contrast: max relative contrast change of the jitter.
        jitter_probability: chance a view is jittered.
        seed: int seed.

    Example:

    >>> crops = MultiCrop((28, 28), num_local=4, seed=0)
    >>> views = crops(keras.random.uniform((8, 28, 28, 1)))
    >>> [tuple(v.shape) for v in views[1:3]]
    [(8, 28, 28, 1), (8, 12, 12, 1)]
    >>> len(views)
    6

    Reference:
        [Caron et al., 2020](https://arxiv.org/abs/2006.09882);
        [Caron et al., 2021](https://arxiv.org/abs/2104.14294)
    """

    def __init__(
        self,
        image_size,
        num_local=6,
        local_size=None,
        global_scale=(0.4, 1.0),
        local_scale=(0.05, 0.4),
        flip_probability=0.5,
        brightness=0.4,
        contrast=0.4,
        jitter_probability=0.8,
        seed=None,
        **kw,
    ):
        super().__init__(**kw)
        self.image_size = check_image_size(image_size)
        if not is_int(num_local) or num_local < 0:
            raise ValueError(
                "Argument `num_local` must be an int >= 0. "
                f"Received: num_local={num_local!r}"
            )
        self.num_local = int(num_local)
        if local_size is None:
            local_size = default_local_size(self.image_size)
        self.local_size = check_image_size(local_size, "local_size")
        self.global_scale = check_range("global_scale", global_scale, 1e-6, 1.0)
        self.local_scale = check_range("local_scale", local_scale, 1e-6, 1.0)
        self.seed = seed
        colour = dict(
            flip_probability=flip_probability,
            brightness=brightness,
            contrast=contrast,
            jitter_probability=jitter_probability,
        )
        self.global_augmenter = ViewAugmenter(
            self.image_size,
            crop_scale=self.global_scale,
            seed=_subseed(seed, 1),
            name="global_views",
            **colour,
        )
        self.local_augmenter = ViewAugmenter(
            self.local_size,
            crop_scale=self.local_scale,
            seed=_subseed(seed, 2),
            name="local_views",
            **colour,
        )

    @property
    def num_views(self):
        """All the views: the two global crops and the local ones."""
        return NUM_GLOBAL + self.num_local

    def build(self, input_shape=None):
        self.built = True  # the sub-layers hold no weights

    def _draw(self, augmenter, images, count, training):
        # One call for all `count` views of a kind: the batch tiled `count`
        # times, each copy cropped and jittered independently.
        batch = ops.shape(images)[0]
        views = augmenter(ops.concatenate([images] * count, axis=0), training=training)
        return [views[i * batch : (i + 1) * batch] for i in range(count)]

    def call(self, images, training=True):
        check_images("images", images)
        images = ops.cast(images, self.compute_dtype)
        views = self._draw(self.global_augmenter, images, NUM_GLOBAL, training)
        if self.num_local:
            views += self._draw(self.local_augmenter, images, self.num_local, training)
        return views

    def compute_output_shape(self, input_shape):
        batch, channels = input_shape[0], input_shape[-1]
        return [(batch, *self.image_size, channels)] * NUM_GLOBAL + [
            (batch, *self.local_size, channels)
        ] * self.num_local

    def get_config(self):
        config = super().get_config()
        augmenter = self.global_augmenter
        config.update(
            image_size=self.image_size,
            num_local=self.num_local,
            local_size=self.local_size,
            global_scale=self.global_scale,
            local_scale=self.local_scale,
            flip_probability=augmenter.flip.probability,
            brightness=augmenter.jitter.brightness,
            contrast=augmenter.jitter.contrast,
            jitter_probability=augmenter.jitter.probability,
            seed=self.seed,
        )
        return config


def group_by_resolution(views):
    """Groups a list of image batches by their (static) height and width.

    Args:
        views: a list of `(batch, height, width, channels)` tensors with
            known heights and widths.

    Returns:
        A list of `((height, width), indices)`, one per resolution in the
        order they first appear, `indices` the positions of its views.

    Example:

    >>> views = MultiCrop((28, 28), num_local=2)(keras.random.uniform((2, 28, 28, 1)))
    >>> group_by_resolution(views)
    [((28, 28), [0, 1]), ((12, 12), [2, 3])]
    """
    groups = {}
    for i, view in enumerate(views):
        size = tuple(view.shape[1:3])
        if len(view.shape) != 4 or None in size:
            raise ValueError(
                "Each view must be a batch of images (batch, height, width, "
                "channels) of known height and width. Received: "
                f"views[{i}].shape={tuple(view.shape)}"
            )
        groups.setdefault(size, []).append(i)
    return list(groups.items())


def encode_by_resolution(encode, views):
    """Runs `encode` once per resolution over a list of views.

    Views of the same size are concatenated along the batch axis and
    encoded in one call (one pass of the encoder, with batch statistics
    over all of them), and the outputs are split back: with `MultiCrop`'s
    views that is one pass for the global crops and one for the local ones.

    Args:
        encode: function from a batch of images to a batch of outputs
            (`(n, ...)`, one row per image), e.g. an encoder.
        views: a list of image batches (see `group_by_resolution`).

    Returns:
        The list of `encode`'s outputs, one per view, in the order of
        `views`.

    Example:

    >>> from keras_ssl.encoders import conv_encoder
    >>> encoder = any_size_encoder(conv_encoder((28, 28, 1), widths=(4, 8)))
    >>> views = MultiCrop((28, 28), num_local=2)(keras.random.uniform((2, 28, 28, 1)))
    >>> [tuple(f.shape) for f in encode_by_resolution(encoder, views)]
    [(2, 8), (2, 8), (2, 8), (2, 8)]
    """
    outputs = [None] * len(views)
    for _, indices in group_by_resolution(views):
        sizes = [ops.shape(views[i])[0] for i in indices]
        encoded = encode(ops.concatenate([views[i] for i in indices], axis=0))
        start = 0
        for i, size in zip(indices, sizes):
            outputs[i] = encoded[start : start + size]
            start = start + size
    return outputs


def any_size_encoder(encoder):
    """A `keras.Model` that shares `encoder`'s layers but takes any image size.

    A functional or `Sequential` Keras model checks its inputs against the
    shape it was built for, so a 28x28 ConvNet refuses 12x12 local crops
    even when its layers (convolutions, global pooling) would take them.
    This rebuilds the same graph of the same layer objects on an input of
    shape `(None, None, channels)`: no new weights, every update to the
    encoder's weights applies to it. A subclassed model is returned as is.
    The result is not meant to be saved: save `encoder`.

    Args:
        encoder: a `keras.Model` on images `(batch, height, width,
            channels)`.

    Returns:
        A `keras.Model` sharing `encoder`'s weights (or `encoder` itself when
        its input size is already free or it is not a graph model).

    Example:

    >>> from keras_ssl.encoders import conv_encoder
    >>> flexible = any_size_encoder(conv_encoder((28, 28, 1), widths=(4, 8)))
    >>> flexible(keras.random.uniform((2, 12, 12, 1))).shape
    TensorShape([2, 8])
    """
    if not isinstance(encoder, keras.Model):
        raise ValueError(
            "Argument `encoder` must be a keras.Model. "
            f"Received: encoder of type {type(encoder).__name__}"
        )
    try:
        shape = encoder.input_shape
    except (AttributeError, ValueError):
        return encoder
    if not isinstance(shape, tuple) or len(shape) != 4 or shape[1:3] == (None, None):
        return encoder
    if not isinstance(encoder, keras.Sequential) and not hasattr(
        encoder, "_operations"
    ):
        return encoder  # not a graph of layers (`Functional` has `_operations`)
    inputs = keras.Input((None, None, shape[-1]), dtype=encoder.inputs[0].dtype)
    try:
        return keras.models.clone_model(
            encoder,
            input_tensors=inputs,
            clone_function=lambda layer: layer,  # the same layers: shared weights
        )
    except (ValueError, TypeError, NotImplementedError):
        return encoder  # a graph Keras cannot rebuild: the caller checks sizes
