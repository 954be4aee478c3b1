"""DINO: self-distillation with no labels, a momentum teacher and multi-crop."""

import copy

import keras
from keras import ops

from keras_ssl.augmentation.multi_crop import (
    NUM_GLOBAL,
    MultiCrop,
    any_size_encoder,
    encode_by_resolution,
)
from keras_ssl.checks import (
    check_bool,
    check_fraction,
    check_int_range,
    check_positive,
    check_positive_int,
)
from keras_ssl.cross_replica import assign_on_every_replica
from keras_ssl.layers.fused_batch_normalization import FusedBatchNormalization
from keras_ssl.losses.dino import (
    dino_center_update,
    dino_loss,
    dino_teacher_probabilities,
)
from keras_ssl.models.image_inputs import prepare_images
from keras_ssl.models.momentum_target import (
    check_momentum,
    ema_update,
    momentum_at,
    weight_pairs,
)
from keras_ssl.models.ssl_model import SSLModel
from keras_ssl.models.two_view_model import check_vector_encoder


@keras.saving.register_keras_serializable(package="keras_ssl")
class DINOHead(keras.layers.Layer):
    """DINO's projection head: MLP, L2-normalised bottleneck, prototypes.

    `num_layers - 1` hidden `Dense → GELU` layers of width `hidden_dim`, a
    linear bottleneck of `bottleneck_dim`, L2 normalisation, then a
    weight-normalised linear layer without bias to `output_dim` logits: each
    output is the cosine similarity between the bottleneck vector and one
    of `output_dim` learned unit "prototype" vectors (the weight norm's
    gain is fixed to 1, as DINO's `norm_last_layer`, which keeps training
    stable).

    Args:
        output_dim: number of prototypes (the softmax's size).
        hidden_dim: width of the hidden layers.
        bottleneck_dim: size of the normalised bottleneck.
        num_layers: `Dense` layers before the prototypes, >= 1.
        batch_norm: whether the hidden layers use batch normalization
            (synchronized across replicas): `Dense → BatchNorm → GELU`.

    Example:

    >>> head = DINOHead(output_dim=32, hidden_dim=16, bottleneck_dim=8)
    >>> head(keras.random.normal((4, 12))).shape
    TensorShape([4, 32])

    Reference:
        [Caron et al., 2021](https://arxiv.org/abs/2104.14294)
    """

    def __init__(
        self,
        output_dim=1024,
        hidden_dim=256,
        bottleneck_dim=64,
        num_layers=3,
        batch_norm=False,
        **kw,
    ):
        super().__init__(**kw)
        self.output_dim = check_positive_int("output_dim", output_dim)
        self.hidden_dim = check_positive_int("hidden_dim", hidden_dim)
        self.bottleneck_dim = check_positive_int("bottleneck_dim", bottleneck_dim)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.batch_norm = check_bool("batch_norm", batch_norm)
        self.mlp = []
        for _ in range(self.num_layers - 1):
            self.mlp.append(
                keras.layers.Dense(self.hidden_dim, use_bias=not batch_norm)
            )
            if batch_norm:
                self.mlp.append(FusedBatchNormalization(synchronized=True))
            self.mlp.append(keras.layers.Activation("gelu"))
        self.bottleneck = keras.layers.Dense(self.bottleneck_dim)

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in [*self.mlp, self.bottleneck]:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.prototypes = self.add_weight(
            (self.bottleneck_dim, self.output_dim),
            initializer="glorot_uniform",
            name="prototypes",
        )

    def call(self, x, training=None):
        for layer in self.mlp:
            x = layer(x, training=training)
        x = ops.normalize(self.bottleneck(x), axis=-1)
        prototypes = ops.normalize(ops.cast(self.prototypes, x.dtype), axis=0)
        return ops.matmul(x, prototypes)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            output_dim=self.output_dim,
            hidden_dim=self.hidden_dim,
            bottleneck_dim=self.bottleneck_dim,
            num_layers=self.num_layers,
            batch_norm=self.batch_norm,
        )
        return config


def _entropy(probabilities):
    """Per-row entropy (nats) of `(batch, dim)` probabilities."""
    return -ops.sum(probabilities * ops.log(ops.maximum(probabilities, 1e-12)), -1)


@keras.saving.register_keras_serializable(package="keras_ssl")
class DINO(SSLModel):
    """DINO: a student matches a momentum teacher's centred, sharpened output.

    Each step draws multi-crop views of every image (`MultiCrop`: two
    global crops at the encoder's input size and `num_local` smaller local
    crops). The student (`encoder` + `DINOHead`) sees every view, one
    encoder pass per resolution; the teacher, an EMA copy of the student,
    sees the two global crops. For each global view the teacher's target
    `softmax((t - center) / teacher_temperature)` must be predicted by the
    student's `softmax(s / student_temperature)` of every *other* view
    (`keras_ssl.losses.dino_loss`). Centering and sharpening balance each
    other so that neither collapse (one prototype, or uniform outputs)
    happens: `center` is an EMA (`center_momentum`) of the teacher outputs'
    mean over the global batch (across replicas), a non-trainable weight
    saved with the model, so a resumed run continues exactly.

    After every optimizer step the teacher's parameters move toward the
    student's with momentum
    `1 - (1 - base_momentum) * (cos(pi * k / total_steps) + 1) / 2` (rising
    to 1; constant without `total_steps`). Its variables are frozen but not
    its layers: in training its batch normalization uses the batch's
    statistics, like the student's, and keeps its own moving averages. The
    teacher temperature
    can warm up linearly from `warmup_teacher_temperature` over
    `warmup_teacher_steps` steps.

    Metrics: `loss`, `teacher_entropy` (mean entropy of the teacher's
    targets, nats: `log(output_dim)` when they are uniform, near 0 when
    sharp) and `kl_divergence` (mean KL divergence from the teacher's
    targets to the student's predictions: it falls to 0 in both kinds of
    collapse, while a learning model keeps it positive).

    `model(x)` and `model.encoder` are the student's encoder.

    Args:
        encoder: `keras.Model` from images in `[0, 1]` to `(batch, dim)`;
            its layers must also take the local crops' size (ConvNets with
            global pooling do: see `keras_ssl.augmentation.any_size_encoder`).
        output_dim: number of prototypes of the head.
        hidden_dim: hidden width of the head's MLP.
        bottleneck_dim: size of the head's normalised bottleneck.
        head_layers: `Dense` layers of the head before the prototypes.
        head_batch_norm: whether the head's hidden layers use batch
            normalization (`Dense → BatchNorm → GELU`, the default, as
            DINO's ConvNet heads) or not (`Dense → GELU`, its ViT heads).
            With a small ConvNet the normalization spreads the teacher's
            outputs apart from the first step (initial target entropy 4.0
            nats instead of 6.3 of the maximum 6.9 for 1,024 prototypes).
        student_temperature: float > 0.
        teacher_temperature: float > 0 (after the warm-up).
        warmup_teacher_temperature: the teacher temperature at step 0, or
            `None` for no warm-up.
        warmup_teacher_steps: steps of the linear temperature warm-up.
        center_momentum: EMA momentum of the centre, in `[0, 1]`.
        base_momentum: starting EMA momentum of the teacher, in `[0, 1)`.
        total_steps: steps over which the teacher momentum rises to 1.
        views: layer making the list of views (`training=True`), whose
            first two are global crops of the encoder's input size; defaults
            to `MultiCrop` (built from the four arguments below).
        num_local: local crops of the default `MultiCrop` (default 6).
        local_size: `(height, width)` of the local crops (default 3/7 of
            the input side).
        global_scale: area fraction range of the global crops (default
            `(0.4, 1.0)`).
        local_scale: area fraction range of the local crops (default
            `(0.05, 0.4)`).
        seed: seed of the default views.
        **kwargs: passed to `keras.Model`.

    Example:

    >>> from keras_ssl.encoders import conv_encoder
    >>> model = DINO(conv_encoder((28, 28, 1), widths=(8, 16)), output_dim=256)
    >>> model.compile(optimizer="adam")
    >>> model.fit(images_uint8, batch_size=64, epochs=1)  # doctest: +SKIP

    Reference:
        [Caron et al., 2021](https://arxiv.org/abs/2104.14294)
    """

    def __init__(
        self,
        encoder,
        output_dim=1024,
        hidden_dim=256,
        bottleneck_dim=64,
        head_layers=3,
        head_batch_norm=True,
        student_temperature=0.1,
        teacher_temperature=0.04,
        warmup_teacher_temperature=None,
        warmup_teacher_steps=0,
        center_momentum=0.9,
        base_momentum=0.996,
        total_steps=None,
        views=None,
        num_local=None,
        local_size=None,
        global_scale=None,
        local_scale=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(encoder, **kwargs)
        check_vector_encoder(encoder)
        self.student_temperature = check_positive(
            "student_temperature", student_temperature
        )
        self.teacher_temperature = check_positive(
            "teacher_temperature", teacher_temperature
        )
        self.warmup_teacher_temperature = check_positive(
            "warmup_teacher_temperature", warmup_teacher_temperature, allow_none=True
        )
        self.warmup_teacher_steps = check_int_range(
            "warmup_teacher_steps", warmup_teacher_steps, 0
        )
        self.center_momentum = check_fraction("center_momentum", center_momentum)
        self.base_momentum = check_momentum(base_momentum)
        self.total_steps = check_positive_int("total_steps", total_steps, True)
        self.seed = seed
        self.views = self._make_views(
            views,
            seed,
            num_local=num_local,
            local_size=local_size,
            global_scale=global_scale,
            local_scale=local_scale,
        )
        self.head = DINOHead(
            output_dim,
            hidden_dim,
            bottleneck_dim,
            head_layers,
            batch_norm=head_batch_norm,
            name="dino_head",
        )
        self.head.build(encoder.output_shape)
        self.teacher_encoder = keras.models.clone_model(encoder)
        self.teacher_head = DINOHead.from_config(
            {**self.head.get_config(), "name": "teacher_head"}
        )
        self.teacher_head.build(encoder.output_shape)
        for teacher, student in self._teacher_pairs():
            teacher.assign(student)
            # The teacher's *variables* are frozen, not its layers: in
            # training its batch normalization normalizes with the batch's
            # statistics, as the student's does (a frozen layer would use
            # the moving averages, which at the start of training squash
            # every image to nearly the same output: uniform targets).
            teacher.trainable = False
        self.center = self.add_weight(
            (1, output_dim), initializer="zeros", trainable=False, name="center"
        )
        self.teacher_entropy = keras.metrics.Mean(name="teacher_entropy")
        self.kl_divergence = keras.metrics.Mean(name="kl_divergence")
        # The student encoder for the local crops' size: the same layers
        # (shared weights) on a size-free input. Not tracked: saving
        # `encoder` saves it.
        object.__setattr__(self, "_any_size_encoder", any_size_encoder(encoder))
        self._check_view_sizes()
        self.build()

    # Construction ---------------------------------------------------------

    def _make_views(self, views, seed, **crop):
        given = {k: v for k, v in crop.items() if v is not None}
        if views is None:
            return MultiCrop(tuple(self.encoder.input_shape[1:3]), seed=seed, **given)
        if not isinstance(views, keras.layers.Layer):
            raise ValueError(
                "Argument `views` must be a Keras layer returning a list of "
                "views (e.g. keras_ssl.augmentation.MultiCrop). Received: "
                f"views={views!r}"
            )
        if given:
            raise ValueError(
                f"The settings {sorted(given)} configure the default MultiCrop "
                "views. Received: them together with views="
                f"{type(views).__name__}; set them on the views layer instead."
            )
        return views

    def _check_view_sizes(self):
        """Raises a `ValueError` when a view's size does not fit the encoders."""
        in_shape = tuple(self.encoder.input_shape)
        try:
            shapes = self.views.compute_output_shape((None, *in_shape[1:]))
        except Exception:  # a custom layer without shapes: checked when run
            return
        if not isinstance(shapes, list | tuple) or len(shapes) < NUM_GLOBAL:
            raise ValueError(
                "Argument `views` must make a list of at least 2 views. "
                f"Received: views making {shapes!r}"
            )
        for i, shape in enumerate(shapes):
            size = tuple(shape[1:3])
            if i < NUM_GLOBAL and size != in_shape[1:3]:
                raise ValueError(
                    "The first 2 views are the global crops the teacher sees: "
                    "they must have the encoder's input size. Received: "
                    f"view {i} of size {size}, encoder.input_shape={in_shape}"
                )
            if size == in_shape[1:3]:
                continue
            # Shape inference misses a `Flatten` before a `Dense`: run one
            # blank image through.
            try:
                blank = ops.zeros((1, *size, in_shape[-1]), "float32")
                out = tuple(self._any_size_encoder(blank, training=False).shape)
            except Exception as e:  # whatever the layers raise on that size
                out = f"an error ({type(e).__name__}: {str(e)[:200]})"
            if out != (1, self.encoder.output_shape[-1]):
                raise ValueError(
                    f"The encoder cannot take views of size {size} (local crops) "
                    f"as well as {in_shape[1:3]}. Received: encoder "
                    f"{self.encoder.name!r} giving {out!r} on them. Use an "
                    "encoder with global pooling, or fewer local crops "
                    "(num_local=0)."
                )

    def _teacher_pairs(self):
        return weight_pairs(
            (self.teacher_encoder, self.teacher_head), (self.encoder, self.head)
        )

    # Schedules ------------------------------------------------------------

    def _step(self):
        if self.optimizer is None:
            return None
        return self.optimizer.iterations

    def momentum(self):
        """The teacher's EMA momentum at the current optimizer step."""
        return momentum_at(self.base_momentum, self._step(), self.total_steps)

    def current_teacher_temperature(self):
        """The teacher temperature at the current optimizer step."""
        step = self._step()
        if (
            self.warmup_teacher_temperature is None
            or not self.warmup_teacher_steps
            or step is None
        ):
            return ops.convert_to_tensor(self.teacher_temperature, "float32")
        progress = ops.minimum(
            ops.cast(step, "float32") / float(self.warmup_teacher_steps), 1.0
        )
        start = self.warmup_teacher_temperature
        return start + (self.teacher_temperature - start) * progress

    # Training -------------------------------------------------------------

    def call(self, images, training=False):
        return self.encoder(prepare_images(images), training=training)

    def _encode_student(self, images, training):
        native = tuple(self.encoder.input_shape[1:3])
        encoder = (
            self.encoder
            if tuple(images.shape[1:3]) == native
            else self._any_size_encoder
        )
        return encoder(images, training=training)

    def compute_objective(self, images, training=False):
        images = prepare_images(images)
        views = self.views(images, training=True)
        if not isinstance(views, list | tuple) or len(views) < NUM_GLOBAL:
            raise ValueError(
                "The `views` layer must return a list of at least 2 views. "
                f"Received: {type(views).__name__}"
            )
        batch = ops.shape(views[0])[0]
        features = encode_by_resolution(
            lambda x: self._encode_student(x, training), list(views)
        )
        logits = self.head(ops.concatenate(features, axis=0), training=training)
        students = [logits[i * batch : (i + 1) * batch] for i in range(len(views))]
        teacher = self.teacher_head(
            self.teacher_encoder(
                ops.concatenate(views[:NUM_GLOBAL], axis=0), training=training
            ),
            training=training,
        )
        teacher = ops.stop_gradient(teacher)
        teachers = [teacher[i * batch : (i + 1) * batch] for i in range(NUM_GLOBAL)]
        temperature = self.current_teacher_temperature()
        per_example = dino_loss(
            students, teachers, self.center, self.student_temperature, temperature
        )
        entropy = ops.mean(
            ops.stack(
                [
                    _entropy(dino_teacher_probabilities(t, self.center, temperature))
                    for t in teachers
                ]
            ),
            axis=0,
        )
        if training:
            # The loss used the centre of the previous steps; then it moves.
            new_center = dino_center_update(self.center, teachers, self.center_momentum)
            assign_on_every_replica([(self.center, new_center)])
        outputs = {
            "teacher_entropy": entropy,
            # KL(q_i || p_j) = CE(q_i, p_j) - H(q_i), averaged over the pairs.
            "kl_divergence": per_example - entropy,
        }
        return ops.sum(per_example), batch, outputs

    def after_train_step(self):
        # The parameters follow the student; the teacher's batch-norm moving
        # statistics are its own (updated by its forward passes), as in DINO.
        pairs = [(t, s) for t, s in self._teacher_pairs() if s.trainable]
        ema_update(pairs, self.momentum())

    def method_metrics(self):
        return [self.teacher_entropy, self.kl_divergence]

    def update_method_metrics(self, outputs):
        self.teacher_entropy.update_state(outputs["teacher_entropy"])
        self.kl_divergence.update_state(outputs["kl_divergence"])

    # Saving ---------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            output_dim=self.head.output_dim,
            hidden_dim=self.head.hidden_dim,
            bottleneck_dim=self.head.bottleneck_dim,
            head_layers=self.head.num_layers,
            head_batch_norm=self.head.batch_norm,
            student_temperature=self.student_temperature,
            teacher_temperature=self.teacher_temperature,
            warmup_teacher_temperature=self.warmup_teacher_temperature,
            warmup_teacher_steps=self.warmup_teacher_steps,
            center_momentum=self.center_momentum,
            base_momentum=self.base_momentum,
            total_steps=self.total_steps,
            views=keras.saving.serialize_keras_object(self.views),
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)
        config["views"] = keras.saving.deserialize_keras_object(config["views"])
        return super().from_config(config)
