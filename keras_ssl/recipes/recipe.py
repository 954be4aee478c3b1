"""The `Recipe` base class: what one pretraining method needs to run."""

import dataclasses

import tensorflow as tf

from keras_ssl.datasets import StreamedData


@dataclasses.dataclass
class PretextContext:
    """What a recipe's `build` is told about the run.

    Args:
        dataset: the `dataset` argument as given (for error messages).
        seed: the run's seed.
        batch_size: the global batch size (the method's default applied).
        epochs: passes over the data.
        steps_per_epoch: the optional cap on steps per epoch.
        model_kwargs: the user's model settings; `build` pops the encoder's
            and passes the rest to the model.
        vocabulary: text only: the vocabulary of the run being resumed
            (`None`: train one).
        num_workers: workers of a multi-worker strategy (streamed data is
            sharded between them).
        encoder: where the encoder comes from: `None` (the method's own),
            a name, a path (a keras-hub preset folder, a `.keras` file, a
            run folder) or a `keras.Model` (see
            `keras_ssl.recipes.encoder_source`).
    """

    dataset: object = None
    seed: int = 0
    batch_size: int = 256
    epochs: int = 1
    steps_per_epoch: int = None
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    vocabulary: list = None
    num_workers: int = 1
    encoder: object = None

    def total_steps(self, num_examples):
        """Optimizer steps of the whole run on `num_examples` examples
        (`None`: a stream of unknown length, `steps_per_epoch` required)."""
        if num_examples is None:
            return self.steps_per_epoch * self.epochs
        steps = max(num_examples // self.batch_size, 1)
        if self.steps_per_epoch:
            steps = min(steps, self.steps_per_epoch)
        return steps * self.epochs


@dataclasses.dataclass
class Pretext:
    """A built pretext task: the model and the examples it trains on.

    Args:
        model: the uncompiled `SSLModel`.
        examples: a `tf.data.Dataset` of single training examples (in
            memory), or `None` for streamed data.
        num_examples: how many (`None`: a stream of unknown length).
        extra: entries the workflow adds to the run's `config.json`.
        source: the raw training inputs (images or texts) when a training
            stream needs them (DeepCluster re-clusters the images).
        vocabulary: text only: the vocabulary the model reads, to save in the
            run directory.
        stream: the `keras_ssl.datasets.StreamedData` the examples are
            streamed from (instead of `examples`).
        prepare: function applied to each streamed batch (tokenizing).
        num_workers: workers the stream is sharded between.
    """

    model: object
    examples: object
    num_examples: int
    extra: dict = dataclasses.field(default_factory=dict)
    source: object = None
    vocabulary: list = None
    stream: object = None
    prepare: object = None
    num_workers: int = 1


class TrainingStream:
    """The endless stream of batches `fit` reads, built afresh for each `fit`.

    Calling the stream returns a new `tf.data.Dataset`: an exact resume
    (`keras_ssl.app.resume.fit_resumable`) skips the batches already trained
    on and then sees the same batches as an uninterrupted run.

    Args:
        make: function returning the dataset.
        epoch_start_callbacks: callbacks whose epoch-start work is part of
            the checkpointed state (not re-run for the rest of an
            interrupted epoch).
        extra_variables: variables outside the model the checkpoint saves.

    Set `skips_batches=True` when `make(start_batch)` skips the first
    `start_batch` batches itself (a streamed source skips raw records
    before decoding them, which is cheaper than `dataset.skip`).
    """

    def __init__(
        self, make, epoch_start_callbacks=(), extra_variables=(), skips_batches=False
    ):
        self.make = make
        self.epoch_start_callbacks = list(epoch_start_callbacks)
        self.extra_variables = list(extra_variables)
        self.skips_batches = skips_batches

    def __call__(self, start_batch=0):
        if self.skips_batches:
            return self.make(start_batch)
        return self.make()

    def attach(self, checkpoint):
        """Called with the run's `RunCheckpoint` once it exists."""


def streamed_batches(pretext, batch_size, seed):
    """The `TrainingStream` of a streamed source: shuffled full batches,
    repeated, starting at any batch (records skipped before decoding)."""
    data, prepare = pretext.stream, pretext.prepare

    def make(start_batch):
        ds = data.batches(
            batch_size,
            shuffle=True,
            seed=seed,
            repeat=True,
            drop_remainder=True,
            start_batch=start_batch,
            labels=False,
            num_workers=pretext.num_workers,
        )
        if prepare is not None:
            ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)

    return TrainingStream(make, skips_batches=True)


def shuffled_batches(examples, num_examples, batch_size, seed):
    """`examples` shuffled with `seed`, in full batches, repeated, prefetched."""
    return (
        examples.shuffle(min(num_examples, 100_000), seed=seed)
        .batch(batch_size, drop_remainder=True)
        .repeat()
        .prefetch(tf.data.AUTOTUNE)
    )


class Recipe:
    """Everything specific to one pretraining method.

    Subclass `ImageRecipe` or `TextRecipe` (which build the encoder, the model
    and the training examples from the data), set the class attributes and
    override a hook where the method differs; then `register` an instance.
    `keras_ssl.app.pretrain`, the CLI and the tune-pretraining search read
    only the registry.

    Attributes:
        name: the method's name (`pretrain(method=name)`, `--method name`).
        modality: `"image"` or `"text"`.
        model_class: the `SSLModel` subclass.
        summary: one line on what the method learns from.
        batch_size: default global batch size.
        learning_rate: default peak learning rate.
        default_dataset: the dataset `pretrain` reads when none is given.
        two_view: whether the model compares two views of each example
            (its projections can collapse: `pretrain(collapse_guard=...)`).
        panel: the TensorBoard monitoring panel (see
            `keras_ssl.callbacks.monitoring_callbacks`): `"views"`,
            `"reconstructions"`, `"masked_tokens"`, `"generated_text"` or
            `None`.
        search_space: `None` (not searchable by tune-pretraining) or a dict
            `{hyperparameter: ((low, high), sampling)}` of the default
            search ranges (see `keras_ssl.tuning.PretrainHyperModel`).
        streamable: whether the method trains on streamed data; methods
            that need the whole dataset at once (re-clustering it, pairing
            its sentences) set it to `False`.
    """

    name = None
    modality = None
    model_class = None
    summary = ""
    batch_size = None
    learning_rate = None
    default_dataset = None
    two_view = False
    panel = None
    search_space = None
    #: Whether the method trains on a streamed source (`StreamedData`).
    streamable = True
    #: Whether the method trains an encoder given by name or path
    #: (`pretrain(encoder=...)`); methods that build their own (MAE's ViT,
    #: the causal LM's decoder) set it to `False`.
    accepts_encoder = True

    def check(self):
        """Raises a `ValueError` when a required attribute is missing."""
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(
                "A recipe's `name` must be an identifier-like str. "
                f"Received: name={self.name!r}"
            )
        if self.modality not in ("image", "text"):
            raise ValueError(
                f"Recipe {self.name!r}: `modality` must be 'image' or 'text'. "
                f"Received: modality={self.modality!r}"
            )
        if not isinstance(self.model_class, type):
            raise ValueError(
                f"Recipe {self.name!r}: `model_class` must be an SSLModel "
                f"subclass. Received: model_class={self.model_class!r}"
            )

    def model_defaults(self, total_steps, input_shape=None):
        """Model settings measured for this method, applied unless given.

        Args:
            total_steps: optimizer steps of the whole run.
            input_shape: the shape of one training example.

        Returns:
            A dict of model constructor arguments.
        """
        return {}

    def build(self, data, context):
        """The `Pretext` (model and examples) for `data`, a `LabeledData`."""
        raise NotImplementedError

    def check_encoder(self, context, own_settings=()):
        """Raises a `ValueError` when an encoder is given to a method that
        builds its own, or with settings of the method's own encoder
        (`own_settings` found in `context.model_kwargs`)."""
        if context.encoder is None:
            return
        if not self.accepts_encoder:
            raise ValueError(
                f"{self.name} builds its own encoder. Received: "
                f"encoder={context.encoder!r}. Expected encoder=None (or pick "
                "another method)."
            )
        given = sorted(set(own_settings) & set(context.model_kwargs))
        if given:
            raise ValueError(
                f"The model settings {given} size keras_ssl's own encoder; the "
                f"encoder {context.encoder!r} has its own architecture. "
                "Remove them from `model_kwargs`."
            )

    def check_streamable(self, data, dataset):
        """Raises a `ValueError` when `data` is streamed and the method needs
        it in memory."""
        if isinstance(data, StreamedData) and not self.streamable:
            raise ValueError(
                f"{self.name} needs its data in memory (it uses the whole "
                f"dataset at once). Received: dataset={dataset!r}, streamed. "
                "Load it in memory (`stream=False`, `--no-stream`), or pick "
                "another method."
            )

    def training_stream(self, pretext, batch_size, seed):
        """The `TrainingStream`: shuffled full batches, repeated."""
        if pretext.stream is not None:
            return streamed_batches(pretext, batch_size, seed)
        examples, num = pretext.examples, pretext.num_examples
        return TrainingStream(lambda: shuffled_batches(examples, num, batch_size, seed))

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r} ({self.modality})>"
