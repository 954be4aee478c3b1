"""SwAV: online clustering with prototypes and swapped assignments."""

import keras
import tensorflow as tf
from keras import ops

from keras_ssl.checks import check_int_range, check_positive, is_int
from keras_ssl.cross_replica import (
    assign_on_every_replica,
    gather_from_replicas,
    global_sum,
)
from keras_ssl.losses.swav import swapped_prediction, swav_codes
from keras_ssl.models.image_inputs import prepare_images
from keras_ssl.models.two_view_model import TwoViewModel

#: Views that get codes: the two global crops.
NUM_CODE_VIEWS = 2


class _Untracked:
    """Holds an object out of Keras' attribute tracking (so it is not saved)."""

    def __init__(self, value):
        self.value = value


def resolution_free_encoder(encoder):
    """`encoder` as a model that accepts images of any height and width.

    A functional (or `Sequential`) encoder built for one image size rejects
    other sizes; multi-crop training also feeds it smaller local crops. This
    returns a functional model on `(None, None, channels)` inputs that runs
    the *same* layers (same weights, nothing copied), or `encoder` itself
    when its height and width are already free. Returns `None` when the
    encoder cannot be re-run on a new input (a subclassed model).

    Args:
        encoder: a `keras.Model` on `(batch, height, width, channels)`.

    Returns:
        A `keras.Model` sharing `encoder`'s weights, or `None`.

    Example:

    >>> from keras_ssl.encoders import conv_encoder
    >>> free = resolution_free_encoder(conv_encoder((16, 16, 1), widths=(8,)))
    >>> free(keras.random.uniform((2, 8, 8, 1))).shape
    TensorShape([2, 8])
    """
    shape = encoder.input_shape
    if shape[1] is None and shape[2] is None:
        return encoder
    try:
        twin = keras.models.clone_model(
            encoder,
            input_tensors=keras.Input((None, None, shape[3])),
            clone_function=lambda layer: layer,
        )
    except Exception:  # noqa: BLE001  (any model clone_model cannot re-run)
        return None
    same = len(twin.weights) == len(encoder.weights) and all(
        a is b for a, b in zip(twin.weights, encoder.weights)
    )
    return twin if same else None


def _check_int(name, value, low):
    if not is_int(value) or value < low:
        raise ValueError(
            f"Argument `{name}` must be an int >= {low}. Received: {name}={value!r}"
        )
    return int(value)


@keras.saving.register_keras_serializable(package="keras_ssl")
class SwAV(TwoViewModel):
    """SwAV: predict one view's cluster code from the other views.

    Every view is encoded, projected by an MLP head and L2-normalised; its
    scores are the cosine similarities to `num_prototypes` learned,
    L2-normalised prototype vectors (a `Dense` without bias whose kernel
    columns are the prototypes). The codes of the two global views are
    soft assignments to the prototypes computed by Sinkhorn-Knopp over the
    *global* batch (under a `tf.distribute` strategy the sums run across
    the replicas, so N replicas compute the codes one device computes),
    which spreads the batch evenly over the prototypes and so prevents
    collapse without negatives. Each view then predicts, with
    `softmax(scores / temperature)`, the code of every other global view
    (`keras_ssl.losses.swav`). No gradient flows through the codes.

    Views: by default two views from `ViewAugmenter`. An `augmenter` that
    returns a list of views per call (e.g. a multi-crop layer returning
    `[global_1, global_2, local_1, ...]`) is used as is: the first two
    views are the global crops (codes are computed on them only), the
    others may have a smaller height and width. The encoder runs once per
    resolution (views of one size are concatenated along the batch); for
    sizes other than its input size it is re-run on free-sized inputs
    (`resolution_free_encoder`: same layers, same weights), which needs a
    functional or `Sequential` encoder that ends in global pooling.

    The prototypes are re-normalised after every step and stay fixed
    during the first `freeze_prototypes_steps` optimizer steps (their
    gradient is zeroed), which helps the first steps.

    With `queue_size > 0`, the projections of the global views of the last
    `queue_size` examples (the global batch's, gathered across replicas)
    are kept in a non-trainable weight, saved with the model so a resumed
    run continues exactly. Once full, the queue's rows join Sinkhorn-Knopp
    (more rows make the equipartition meaningful when the batch is smaller
    than the number of prototypes); they get no loss. Off by default.

    Metrics: `loss` and `prototype_entropy`, the entropy (nats) of the
    prototype usage: the global-batch mean of the global views' predicted
    assignments. `log(num_prototypes)` means every prototype is used
    alike; near 0, every example goes to one prototype.

    Args:
        encoder: `keras.Model` from images in `[0, 1]` to `(batch, dim)`.
        projection_dim: size of the projection (and of the prototypes).
        projection_hidden_dims: hidden sizes of the projection head.
        num_prototypes: number of prototypes K, >= 2.
        temperature: softmax temperature of the predictions, > 0.
        epsilon: Sinkhorn-Knopp entropic regularisation, > 0.
        sinkhorn_iterations: Sinkhorn-Knopp iterations, >= 1.
        freeze_prototypes_steps: optimizer steps during which the
            prototypes are not trained, >= 0.
        queue_size: rows of the queue of past projections (0: no queue).
        augmenter: a layer making one view per call (called twice), or a
            list of views per call (first two: global views). Defaults to
            `ViewAugmenter` at the encoder's input size.
        seed: seed of the default augmenter.
        projection_batch_norm: whether the projection head's hidden layers
            use batch normalization.
        **kwargs: passed to `TwoViewModel` (e.g. `collapse_metrics`) and
            `keras.Model`.

    Example:

    >>> from keras_ssl.encoders import conv_encoder
    >>> model = SwAV(conv_encoder((28, 28, 1), widths=(8, 16)), num_prototypes=30)
    >>> model.compile(optimizer="adam")
    >>> model.fit(images_uint8, batch_size=64, epochs=1)  # doctest: +SKIP

    Reference:
        [Caron et al., 2020](https://arxiv.org/abs/2006.09882)
    """

    def __init__(
        self,
        encoder,
        projection_dim=64,
        projection_hidden_dims=(256,),
        num_prototypes=100,
        temperature=0.1,
        epsilon=0.05,
        sinkhorn_iterations=3,
        freeze_prototypes_steps=0,
        queue_size=0,
        augmenter=None,
        seed=None,
        projection_batch_norm=True,
        **kwargs,
    ):
        num_prototypes = _check_int("num_prototypes", num_prototypes, 2)
        temperature = check_positive("temperature", temperature)
        epsilon = check_positive("epsilon", epsilon)
        sinkhorn_iterations = check_int_range(
            "sinkhorn_iterations", sinkhorn_iterations, 1
        )
        freeze_prototypes_steps = _check_int(
            "freeze_prototypes_steps", freeze_prototypes_steps, 0
        )
        queue_size = _check_int("queue_size", queue_size, 0)
        super().__init__(
            encoder,
            projection_dim=projection_dim,
            projection_hidden_dims=projection_hidden_dims,
            augmenter=augmenter,
            seed=seed,
            projection_batch_norm=projection_batch_norm,
            **kwargs,
        )
        self.num_prototypes = num_prototypes
        self.temperature = temperature
        self.epsilon = epsilon
        self.sinkhorn_iterations = sinkhorn_iterations
        self.freeze_prototypes_steps = freeze_prototypes_steps
        self.queue_size = queue_size
        self.prototypes = keras.layers.Dense(
            num_prototypes, use_bias=False, name="prototypes"
        )
        self.prototypes.build((None, projection_dim))
        kernel = self.prototypes.kernel
        kernel.assign(ops.normalize(kernel, axis=0))
        if queue_size:
            self.queue = self.add_weight(
                (NUM_CODE_VIEWS, queue_size, projection_dim),
                initializer="zeros",
                trainable=False,
                name="queue",
            )
            self.queue_count = self.add_weight(
                (),
                initializer="zeros",
                dtype="int32",
                trainable=False,
                name="queue_count",
            )
        self.prototype_entropy = keras.metrics.Mean(name="prototype_entropy")
        self._free_encoder = _Untracked(resolution_free_encoder(encoder))
        self.build()

    # Views and embeddings ---------------------------------------------

    def make_views(self, images):
        """The list of views of a batch: `[global_1, global_2, *local]`."""
        images = prepare_images(images)
        views = self.augmenter(images, training=True)
        if not isinstance(views, list | tuple):
            return [views, self.augmenter(images, training=True)]
        views = list(views)
        if len(views) < 2:
            raise ValueError(
                "The augmenter must return one view per call or a list of at "
                f"least 2 views. Received: a list of {len(views)} view(s)"
            )
        return views

    def _encode(self, images, training):
        size = tuple(images.shape[1:3])
        native = tuple(self.encoder.input_shape[1:3])
        if all(n is None or n == s for n, s in zip(native, size)):
            return self.encoder(images, training=training)
        free = self._free_encoder.value
        message = (
            f"SwAV got views of size {size} and the encoder takes {native}: "
            "the encoder must accept other image sizes (a functional or "
            "Sequential keras.Model ending in global pooling, such as "
            "keras_ssl.encoders.conv_encoder). Received: encoder "
            f"{self.encoder.name!r}"
        )
        if free is None:
            raise ValueError(message)
        try:
            return free(images, training=training)
        except (ValueError, TypeError, tf.errors.InvalidArgumentError) as e:
            raise ValueError(message) from e

    def embed_views(self, views, training=False):
        """L2-normalised projections of every view, in the views' order.

        The encoder runs once per image size (the views of one size are
        concatenated along the batch), the projection head once on all.

        Args:
            views: list of `(b, height, width, channels)` view batches.
            training: forward-pass mode.

        Returns:
            List of `(b, projection_dim)` float32 tensors.
        """
        groups = {}
        for i, view in enumerate(views):
            groups.setdefault(tuple(view.shape[1:3]), []).append(i)
        batch = ops.shape(views[0])[0]
        order, features = [], []
        for indices in groups.values():
            images = ops.concatenate([views[i] for i in indices], axis=0)
            features.append(self._encode(images, training))
            order.extend(indices)
        z = self.projection_head(ops.concatenate(features, axis=0), training=training)
        z = ops.normalize(ops.cast(z, "float32"), axis=-1)
        embeddings = [None] * len(views)
        for position, i in enumerate(order):
            embeddings[i] = z[position * batch : (position + 1) * batch]
        return embeddings

    def prototype_matrix(self):
        """The `(projection_dim, num_prototypes)` unit-column prototypes.

        During the first `freeze_prototypes_steps` optimizer steps no
        gradient reaches them.
        """
        kernel = ops.normalize(ops.cast(self.prototypes.kernel, "float32"), axis=0)
        optimizer = getattr(self, "optimizer", None)
        if self.freeze_prototypes_steps and optimizer is not None:
            trainable = ops.cast(
                optimizer.iterations >= self.freeze_prototypes_steps, "float32"
            )
            frozen = ops.stop_gradient(kernel)
            kernel = frozen + trainable * (kernel - frozen)
        return kernel

    # The objective ----------------------------------------------------

    def _queue_in_use(self):
        return ops.cast(self.queue_count >= self.queue_size, "float32")

    def compute_objective(self, images, training=False):
        views = self.make_views(images)
        embeddings = self.embed_views(views, training=training)
        prototypes = self.prototype_matrix()
        scores = [ops.matmul(z, prototypes) for z in embeddings]
        codes = []
        for g in range(NUM_CODE_VIEWS):
            queue_scores, weight = None, 1.0
            if self.queue_size:
                queue = ops.convert_to_tensor(self.queue)[g]
                queue_scores = ops.matmul(queue, ops.stop_gradient(prototypes))
                weight = self._queue_in_use()
            codes.append(
                swav_codes(
                    scores[g],
                    self.epsilon,
                    self.sinkhorn_iterations,
                    queue_scores,
                    weight,
                )
            )
        if training and self.queue_size:
            self._enqueue(embeddings[:NUM_CODE_VIEWS])
        per_example = swapped_prediction(scores, codes, self.temperature)
        outputs = {"prototype_entropy": self._usage_entropy(scores[:NUM_CODE_VIEWS])}
        outputs = self.with_diagnostics(outputs, embeddings[0])
        return ops.sum(per_example), ops.shape(per_example)[0], outputs

    def _usage_entropy(self, scores):
        """Entropy of the global batch's mean predicted assignment."""
        scores = ops.stop_gradient(ops.concatenate(scores, axis=0))
        probabilities = ops.softmax(scores / self.temperature, axis=-1)
        count = ops.cast(ops.shape(probabilities)[0], "float32")
        usage = global_sum(ops.sum(probabilities, axis=0)) / global_sum(count)
        return -ops.sum(usage * ops.log(ops.maximum(usage, 1e-12)))

    def _enqueue(self, embeddings):
        """Puts the global batch's projections first in the queue (FIFO)."""
        queue = ops.convert_to_tensor(self.queue)
        rows = []
        for g, z in enumerate(embeddings):
            gathered, _ = gather_from_replicas(ops.stop_gradient(z))
            rows.append(
                ops.concatenate([gathered, queue[g]], axis=0)[: self.queue_size]
            )
        added = ops.cast(ops.shape(gathered)[0], "int32")
        count = ops.minimum(self.queue_count + added, self.queue_size)
        assign_on_every_replica(
            [(self.queue, ops.stack(rows)), (self.queue_count, count)]
        )

    def after_train_step(self):
        kernel = self.prototypes.kernel
        assign_on_every_replica([(kernel, ops.normalize(kernel, axis=0))])

    def method_metrics(self):
        return [self.prototype_entropy]

    def update_method_metrics(self, outputs):
        self.prototype_entropy.update_state(outputs["prototype_entropy"])

    def get_config(self):
        config = super().get_config()
        config.update(
            num_prototypes=self.num_prototypes,
            temperature=self.temperature,
            epsilon=self.epsilon,
            sinkhorn_iterations=self.sinkhorn_iterations,
            freeze_prototypes_steps=self.freeze_prototypes_steps,
            queue_size=self.queue_size,
        )
        return config
