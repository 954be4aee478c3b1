"""Fine-tune an encoder with a classification head."""

import collections
import numbers
import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.checks import check_labels, check_same_length
from keras_ssl.compat import seed_scope
from keras_ssl.datasets.labeled_data import LabeledData
from keras_ssl.evaluation.embed import (
    as_stream,
    is_stream,
    split_stream,
    stream_batches,
    stream_labels,
)
from keras_ssl.evaluation.fine_tune_settings import (
    FineTuneSettings,
    resolve_settings,
)
from keras_ssl.evaluation.gradual_unfreezing import (
    GradualUnfreezing,
    encoder_blocks,
    set_trainable_blocks,
)
from keras_ssl.schedules import warmup_cosine


def build_classifier(
    encoder,
    num_classes,
    dropout=0.1,
    output_key="pooled_output",
    head_norm=True,
    head_l2=0.0,
):
    """Puts a dropout + linear softmax head on `encoder`.

    Args:
        encoder: `keras.Model` returning `(batch, dim)`, or a dict holding
            `output_key` (such as `transformer_encoder`'s `pooled_output`).
        num_classes: number of classes, >= 2.
        dropout: dropout rate before the head.
        output_key: which output to use when the encoder returns a dict.
        head_norm: standardize the features with batch normalization before
            the head, as the linear probe standardizes them. Pretrained
            features are often anisotropic (a large shared component); this
            makes the head's starting point independent of that.
        head_l2: L2 penalty `head_l2 * sum(kernel ** 2)` on the head's
            kernel, added to the training loss (`model.losses`); on top of
            any decoupled weight decay of the optimizer.

    Returns:
        A `keras.Model` from the encoder's inputs to class logits.
    """
    if (
        isinstance(head_l2, bool)
        or not isinstance(head_l2, numbers.Real)
        or not np.isfinite(head_l2)
        or head_l2 < 0
    ):
        raise ValueError(
            f"Argument `head_l2` must be a number >= 0. Received: head_l2={head_l2!r}"
        )
    if not isinstance(num_classes, int | np.integer) or num_classes < 2:
        raise ValueError(
            "Argument `num_classes` must be an int >= 2. "
            f"Received: num_classes={num_classes!r}"
        )
    inputs = keras.Input(
        shape=encoder.input_shape[1:], dtype=encoder.inputs[0].dtype, name="inputs"
    )
    features = encoder(inputs)
    if isinstance(features, dict):
        features = features[output_key]
    if len(features.shape) != 2:
        raise ValueError(
            "The encoder must return a vector per example. Received: output "
            f"shape={tuple(features.shape)}. Expected: (batch, dim)"
        )
    x = features
    if head_norm:
        x = keras.layers.BatchNormalization(name="head_norm")(x)
    x = keras.layers.Dropout(dropout)(x)
    regularizer = keras.regularizers.L2(float(head_l2)) if head_l2 else None
    logits = keras.layers.Dense(
        int(num_classes), kernel_regularizer=regularizer, name="classifier_head"
    )(x)
    return keras.Model(inputs, logits, name="classifier")


def warmup_cosine_schedule(learning_rate, total_steps, warmup_fraction):
    """Deprecated: use `keras_ssl.schedules.warmup_cosine`.

    Linear warm-up to `learning_rate` over `warmup_fraction` of
    `total_steps`, then cosine decay to 0: the same schedule as
    `warmup_cosine(learning_rate, total_steps, int(total_steps *
    warmup_fraction))`.
    """
    warnings.warn(
        "`keras_ssl.evaluation.fine_tune.warmup_cosine_schedule` is deprecated; "
        "use `keras_ssl.schedules.warmup_cosine(learning_rate, total_steps, "
        "warmup_steps)` with `warmup_steps=int(total_steps * warmup_fraction)`.",
        DeprecationWarning,
        stacklevel=2,
    )
    return warmup_cosine(learning_rate, total_steps, int(total_steps * warmup_fraction))


def freeze_below_top(encoder, k):
    """Freezes all but the top `k` weighted, non-normalisation layers.

    Normalisation layers above the lowest trainable layer stay trainable.
    Returns the names of the trainable layers.
    """
    _check_trainable_layers(encoder, k)
    return set_trainable_blocks(encoder, k)


def _check_trainable_layers(encoder, k):
    blocks = encoder_blocks(encoder)
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= len(blocks):
        raise ValueError(
            f"Argument `trainable_layers` must be None or an int in [0, "
            f"{len(blocks)}] (the encoder's blocks, bottom to top: "
            f"{[block.name for block in blocks]}). "
            f"Received: trainable_layers={k!r}"
        )


def class_weights(class_weight, y_train, num_classes):
    """Resolves `fine_tune`'s `class_weight` into `{class id: weight}` (or None).

    `"balanced"` weighs class `c` by `n / (k * n_c)` (`n` examples, `k`
    classes present, `n_c` examples of class `c`; the scikit-learn
    formula), so every class contributes as much to the loss; classes absent
    from `y_train` get 1. A dict gives weights (numbers >= 0) by class id;
    missing classes get 1.
    """
    if class_weight is None:
        return None
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(
                "Argument `class_weight` must be None, 'balanced' or a dict "
                f"{{class id: weight}}. Received: class_weight={class_weight!r}"
            )
        counts = np.bincount(np.asarray(y_train), minlength=num_classes)
        present = np.count_nonzero(counts)
        return {
            c: float(len(y_train) / (present * n)) if n else 1.0
            for c, n in enumerate(counts)
        }
    if not isinstance(class_weight, dict):
        raise ValueError(
            "Argument `class_weight` must be None, 'balanced' or a dict "
            f"{{class id: weight}}. Received: class_weight of type "
            f"{type(class_weight).__name__}"
        )
    resolved = {c: 1.0 for c in range(num_classes)}
    for key, value in class_weight.items():
        if (
            isinstance(key, bool)
            or not isinstance(key, numbers.Integral)
            or not 0 <= key < num_classes
            or isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not np.isfinite(value)
            or value < 0
        ):
            raise ValueError(
                "Argument `class_weight` must map class ids in "
                f"[0, {num_classes}) to numbers >= 0. Received: "
                f"class_weight={class_weight!r}"
            )
        resolved[int(key)] = float(value)
    return resolved


def _validation_part(x_train, y_train, validation_split, validation_data, seed):
    """Returns `(x_train, y_train, x_val, y_val)`; the validation part may be None."""
    if validation_split is not None and validation_data is not None:
        raise ValueError(
            "Pass either `validation_split` or `validation_data`, not both. "
            f"Received: validation_split={validation_split!r} and "
            "validation_data"
        )
    if validation_data is not None:
        if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
            raise ValueError(
                "Argument `validation_data` must be a tuple `(x_val, y_val)`. "
                f"Received: validation_data of type {type(validation_data).__name__}"
            )
        x_val, y_val = validation_data
        y_val = check_labels("y_val", y_val)
        check_same_length("x_val", x_val, "y_val", y_val)
        return x_train, y_train, x_val, y_val
    if validation_split is None:
        return x_train, y_train, None, None
    if (
        isinstance(validation_split, bool)
        or not isinstance(validation_split, numbers.Real)
        or not 0 < validation_split < 1
    ):
        raise ValueError(
            "Argument `validation_split` must be a fraction strictly between 0 "
            f"and 1. Received: validation_split={validation_split!r}"
        )
    train, val = LabeledData(x_train, y_train, name="x_train").split(
        test_fraction=float(validation_split), seed=seed, stratify=True
    )
    return train.x, train.y, val.x, val.y


def fine_tune(
    encoder,
    x_train,
    y_train,
    x_test,
    y_test,
    settings=None,
    *,
    callbacks=None,
    verbose="auto",
    validation_data=None,
    num_classes=None,
    preprocess=None,
    **overrides,
):
    """Fine-tunes a *copy* of `encoder` with a linear head; reports accuracy.

    AdamW with decoupled weight decay, linear warm-up then cosine decay of the
    learning rate (`keras_ssl.schedules.warmup_cosine`). The encoder passed
    in is left untouched (its weights are copied into a fresh clone), so the
    same pretrained encoder can be fine-tuned several times and compared
    with a random-init twin. The seeded part runs in
    `keras_ssl.compat.seed_scope(seed)`: the caller's global random
    generators are left as they were.

    The settings come from `settings` (a `FineTuneSettings`; default
    `FineTuneSettings()`), each overridden by the keyword argument of the
    same name: `fine_tune(..., epochs=3)` and
    `fine_tune(..., FineTuneSettings(epochs=3))` are the same run.

    Freeze strategies: the whole encoder (default), the head only
    (`freeze_encoder=True`), the top `k` blocks (`trainable_layers=k`), or
    gradual unfreezing (`gradual_unfreezing=True`: the head and the top
    `trainable_layers or 0` blocks in the first epoch, one more block from
    the top at each later epoch; see
    `keras_ssl.evaluation.gradual_unfreezing.GradualUnfreezing`).

    Streams: `x_train` (and `x_test`, and `validation_data`) may be a
    labelled `keras_ssl.datasets.StreamedData` or a `tf.data.Dataset` of
    `(x, y)` (single examples or batches; see
    `keras_ssl.datasets.from_dataset`) with a known number of examples,
    its labels coming with it (`y_train` / `y_test` then `None`). `fit`
    then reads a seeded, shuffled, repeated stream of batches
    (`steps_per_epoch` from the count), `preprocess` turning each batch of
    raw inputs into the encoder's inputs in the pipeline, and nothing is
    held in memory but the labels when they must be counted (class
    weights `"balanced"`, or no `num_classes` nor class names). A
    `validation_split` of a stream is a seeded hash split
    (`keras_ssl.evaluation.embed.split_stream`), not stratified.

    Args:
        encoder: `keras.Model` (see `build_classifier`).
        x_train, y_train: training inputs (e.g. token ids) and int labels;
            or a labelled stream and `None`.
        x_test, y_test: held-out inputs and labels (or a labelled stream
            and `None`); both may be `None` (no test evaluation: `accuracy`
            is then `None`).
        settings: a `FineTuneSettings`, or `None` for its defaults.
        callbacks: extra Keras callbacks for `fit`.
        verbose: Keras verbosity.
        validation_data: `(x_val, y_val)` (or a labelled stream) instead of
            `validation_split`.
        num_classes: number of classes; defaults to the largest label + 1
            (for a stream with class names: their number).
        preprocess: streams only: a function of a batch of raw inputs
            returning the encoder's inputs, run in the `tf.data` pipeline
            (a text model's `TextPreprocessor`). Default: the images of a
            `StreamedData` (`uint8`) scaled to `[0, 1]`.
        **overrides: settings (the fields of `FineTuneSettings`) that
            replace those of `settings`:
            `epochs` (2): passes over `x_train`.
            `batch_size` (64): batch size (at most the number of training
            examples).
            `learning_rate` (5e-4): peak learning rate.
            `weight_decay` (0.01): AdamW weight decay.
            `warmup_fraction` (0.1): fraction of steps of linear warm-up.
            `dropout` (0.1): dropout before the head.
            `freeze_encoder` (False): train the head only (a linear probe
            trained by SGD).
            `trainable_layers` (None): `None` fine-tunes the whole encoder;
            an int `k` only its top `k` layers (counted over the layers with
            weights, normalisation layers not counted: for a Transformer the
            top `k` blocks and the norms above them; `k=0` is the head only,
            like `freeze_encoder=True`). With `gradual_unfreezing`, the
            blocks trainable in the first epoch.
            `head_norm` (True): batch-normalize the features before the head.
            `probe_epochs` (0): first train only the head for this many
            epochs on the frozen encoder, then fine-tune everything ("LP-FT",
            Kumar et al. 2022, https://arxiv.org/abs/2202.10054): a random
            head's gradients no longer distort the pretrained features.
            `seed` (0): seed of the data order, the validation split and the
            head initialisation.
            `head_l2` (0.0): L2 penalty on the head's kernel (see
            `build_classifier`).
            `gradual_unfreezing` (False): unfreeze one more encoder block per
            epoch.
            `validation_split` (None): fraction of `x_train` held out
            (stratified by class) for validation; the rest trains.
            `early_stopping_patience` (None): with validation data, stop
            after this many epochs without improvement of
            `early_stopping_monitor` and restore the weights of the best
            epoch. `None`: no early stopping.
            `early_stopping_monitor` ("val_loss"): the metric early stopping
            watches (`"val_loss"` or `"val_accuracy"`).
            `class_weight` (None): `None`, `"balanced"` (classes weighted
            inversely to their frequency in `y_train`) or a dict
            `{class id: weight}`; scales each example's loss (see
            `class_weights`).

    Returns:
        `{"accuracy", "num_train", "num_test", "history"}` and the trained
        classifier under `"model"`; also `"num_val"`, `"val_loss"` and
        `"val_accuracy"` (of the returned weights, `None` without
        validation data), `"epochs_run"`, `"best_epoch"` (1-based, with
        early stopping) and `"class_weight"` (the weights used).

    Example:

    ```python
    settings = FineTuneSettings(validation_split=0.1, early_stopping_patience=2)
    result = fine_tune(encoder, ids_train, y_train, ids_test, y_test, settings,
                       class_weight="balanced")
    result["accuracy"]
    ```
    """
    s = resolve_settings(settings, overrides)
    streams = (x_train, x_test, validation_data)
    if any(is_stream(part) for part in streams):
        data, num_classes, weights = _stream_data(
            s, (x_train, y_train), (x_test, y_test), validation_data, num_classes
        )
        _check_stream_inputs(encoder, data, preprocess)
        data = data._replace(preprocess=preprocess)
        with seed_scope(s.seed):
            return _train(s, encoder, data, num_classes, weights, callbacks, verbose)
    if preprocess is not None:
        raise ValueError(
            "Argument `preprocess` applies to streams (a StreamedData or a "
            "tf.data.Dataset). Received: preprocess with x_train of type "
            f"{type(x_train).__name__}; prepare the arrays first."
        )
    y_train = check_labels("y_train", y_train)
    check_same_length("x_train", x_train, "y_train", y_train)
    if (x_test is None) != (y_test is None):
        raise ValueError(
            "Arguments `x_test` and `y_test` must both be given or both be None."
        )
    if y_test is not None:
        y_test = check_labels("y_test", y_test)
        check_same_length("x_test", x_test, "y_test", y_test)
    x_train, y_train, x_val, y_val = _validation_part(
        x_train, y_train, s.validation_split, validation_data, s.seed
    )
    num_classes = _num_classes(num_classes, y_train, y_test, y_val)
    _check_run(s, len(x_train), x_val is not None)
    weights = class_weights(s.class_weight, y_train, num_classes)
    data = _FitData(
        train=(x_train, y_train),
        val=None if x_val is None else (x_val, y_val),
        test=None if x_test is None else (x_test, y_test),
    )
    with seed_scope(s.seed):
        return _train(s, encoder, data, num_classes, weights, callbacks, verbose)


#: What `_train` fits on: each of `train`, `val`, `test` is an `(x, y)`
#: pair of arrays, a labelled `StreamedData` or `None`; `preprocess`
#: applies to the streams.
_FitData = collections.namedtuple(
    "_FitData", ["train", "val", "test", "preprocess"], defaults=(None,)
)


def _count(part):
    """The number of examples of an `(x, y)` pair or a stream."""
    if part is None:
        return 0
    return part.num_examples if is_stream(part) else len(part[0])


def _labelled_stream(x, y, names):
    """A labelled `StreamedData` with a known count, or a `ValueError`."""
    x_name, y_name = names
    if y is not None:
        raise ValueError(
            f"The labels of a stream come with its examples. Received: "
            f"{x_name} of type {type(x).__name__} and {y_name} of type "
            f"{type(y).__name__}. Expected {y_name}=None."
        )
    data = as_stream(x, x_name)
    if not data.labelled:
        raise ValueError(
            f"Fine-tuning needs labelled data. Received: {x_name}="
            f"{data!r} without labels. Expected a stream of (x, y)."
        )
    if data.num_examples is None:
        raise ValueError(
            f"Argument `{x_name}` must have a known number of examples (the "
            f"steps of an epoch). Received: the stream {data.name!r} of "
            "unknown length. Expected `from_dataset(..., num_examples=n)`."
        )
    return data


def _array_part(x, y, names):
    """A checked `(x, y)` pair of arrays, or `None` when both are None."""
    x_name, y_name = names
    if (x is None) != (y is None):
        raise ValueError(
            f"Arguments `{x_name}` and `{y_name}` must both be given or both be None."
        )
    if y is None:
        return None
    y = check_labels(y_name, y)
    check_same_length(x_name, x, y_name, y)
    return x, y


def _part(pair, names):
    x, y = pair
    if is_stream(x):
        return _labelled_stream(x, y, names)
    return _array_part(x, y, names)


def _stream_data(s, train, test, validation_data, num_classes):
    """`(_FitData, num_classes, class weights)` when a part is a stream."""
    if not is_stream(train[0]):
        raise ValueError(
            "Fine-tuning on streams needs the training data as a stream too. "
            f"Received: x_train of type {type(train[0]).__name__} with a "
            "streamed test or validation part."
        )
    train = _labelled_stream(*train, ("x_train", "y_train"))
    test = _part(test, ("x_test", "y_test"))
    val = None
    if validation_data is not None:
        if s.validation_split is not None:
            raise ValueError(
                "Pass either `validation_split` or `validation_data`, not both. "
                f"Received: validation_split={s.validation_split!r} and "
                "validation_data"
            )
        if is_stream(validation_data):
            val = _labelled_stream(validation_data, None, ("validation_data", "y"))
        else:
            if not isinstance(validation_data, tuple | list) or (
                len(validation_data) != 2
            ):
                raise ValueError(
                    "Argument `validation_data` must be a tuple `(x_val, y_val)` "
                    "or a stream. Received: validation_data of type "
                    f"{type(validation_data).__name__}"
                )
            val = _array_part(*validation_data, ("x_val", "y_val"))
    elif s.validation_split is not None:
        train, val = split_stream(train, s.validation_split, seed=s.seed)
    labels = None
    if s.class_weight == "balanced" or (
        num_classes is None and train.label_names is None
    ):
        labels = stream_labels(train)
    num_classes = _stream_num_classes(num_classes, train, labels, test, val)
    _check_run(s, train.num_examples, val is not None)
    weights = class_weights(s.class_weight, labels, num_classes)
    return _FitData(train=train, val=val, test=test), num_classes, weights


def _stream_num_classes(num_classes, train, labels, test, val):
    """`num_classes` of streamed training data: given, the number of its
    class names, or the largest label + 1 (of `labels`, the training
    labels when they were read, and of array parts)."""
    largest = [int(labels.max())] if labels is not None and len(labels) else []
    for part in (test, val):
        if part is not None and not is_stream(part) and len(part[1]):
            largest.append(int(part[1].max()))
    if num_classes is None:
        if train.label_names is not None:
            return max([len(train.label_names), *(n + 1 for n in largest)])
        return max(largest) + 1 if largest else 0
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, numbers.Integral)
        or (largest and num_classes <= max(largest))
    ):
        raise ValueError(
            "Argument `num_classes` must be an int above the largest label "
            f"({max(largest, default='unknown')}). Received: "
            f"num_classes={num_classes!r}"
        )
    return int(num_classes)


def _check_stream_inputs(encoder, data, preprocess):
    """Text streams need `preprocess` unless the encoder takes strings."""
    if preprocess is not None or data.train.modality != "text":
        return
    dtype = getattr(encoder.inputs[0], "dtype", None) if encoder.inputs else None
    if dtype not in ("string", tf.string):
        raise ValueError(
            "A text stream must be tokenized for the encoder. Received: "
            f"x_train={data.train!r} of texts and preprocess=None. Expected "
            "preprocess=<the model's TextPreprocessor> (token ids)."
        )


def _num_classes(num_classes, y_train, y_test, y_val):
    """`num_classes` checked against the labels (largest label + 1 if None)."""
    labels = [y for y in (y_train, y_test, y_val) if y is not None and len(y)]
    for name, y in (("y_train", y_train), ("y_test", y_test), ("y_val", y_val)):
        if y is not None and len(y) and y.min() < 0:
            raise ValueError(
                f"Argument `{name}` must hold class ids >= 0. Received: "
                f"min({name})={int(y.min())}. Expected ids in [0, num_classes)."
            )
    largest = int(max(y.max() for y in labels))
    if num_classes is None:
        return largest + 1
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, numbers.Integral)
        or num_classes <= largest
    ):
        raise ValueError(
            "Argument `num_classes` must be an int above the largest label "
            f"({largest}). Received: num_classes={num_classes!r}"
        )
    return int(num_classes)


def _check_run(settings, num_train, has_validation):
    """The checks of `settings` that need the data."""
    batch_size = settings.batch_size
    if batch_size is None or not 1 <= batch_size <= num_train:
        raise ValueError(
            "Argument `batch_size` must be an int between 1 and the number of "
            f"training examples ({num_train}). Received: batch_size={batch_size!r}"
        )
    if settings.early_stopping_patience is not None and not has_validation:
        raise ValueError(
            "Early stopping needs validation data: pass `validation_split` "
            "or `validation_data`. Received: "
            f"early_stopping_patience={settings.early_stopping_patience} "
            "without either"
        )


def _accuracy_metric():
    return keras.metrics.SparseCategoricalAccuracy(name="accuracy")


def _datasets(s, data):
    """`(train, steps per epoch or None, validation, test)` datasets of
    `data` (a `_FitData`), built in `fine_tune`'s seed scope."""
    steps_per_epoch = None
    if is_stream(data.train):
        train_ds = stream_batches(
            data.train,
            s.batch_size,
            data.preprocess,
            shuffle=True,
            seed=s.seed,
            repeat=True,
            drop_remainder=True,
        )
        steps_per_epoch = data.train.num_examples // s.batch_size
    else:
        x_train, y_train = data.train
        train_ds = (
            tf.data.Dataset.from_tensor_slices((x_train, y_train))
            .shuffle(len(x_train), seed=s.seed)
            .batch(s.batch_size, drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE)
        )

    def held_out(part):
        if part is None:
            return None
        if is_stream(part):
            return stream_batches(part, 256, data.preprocess)
        return tf.data.Dataset.from_tensor_slices(part).batch(256)

    return train_ds, steps_per_epoch, held_out(data.val), held_out(data.test)


def _train(s, encoder, data, num_classes, weights, callbacks, verbose):
    """The seeded part of `fine_tune`: build, (probe,) fit, evaluate."""
    with warnings.catch_warnings():
        # A streamed validation or test part has no known number of
        # batches: Keras warns when it first runs out, which is its end.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        return _fit_and_evaluate(
            s, encoder, data, num_classes, weights, callbacks, verbose
        )


def _fit_and_evaluate(s, encoder, data, num_classes, weights, callbacks, verbose):
    num_train = _count(data.train)
    copy = keras.models.clone_model(encoder)
    copy.set_weights(encoder.get_weights())
    model = build_classifier(
        copy, num_classes, s.dropout, head_norm=s.head_norm, head_l2=s.head_l2
    )
    if s.trainable_layers is not None:
        _check_trainable_layers(copy, s.trainable_layers)
    train_ds, steps_per_epoch, val_ds, test_ds = _datasets(s, data)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if s.probe_epochs and not s.freeze_encoder:
        copy.trainable = False
        model.compile(
            optimizer=keras.optimizers.Adam(s.learning_rate * 10),
            loss=loss,
            metrics=[_accuracy_metric()],
        )
        model.fit(
            train_ds,
            epochs=s.probe_epochs,
            steps_per_epoch=steps_per_epoch,
            class_weight=weights,
            verbose=verbose,
            shuffle=False,
        )
    copy.trainable = not s.freeze_encoder
    if s.gradual_unfreezing:  # every block trainable while the optimizer builds
        set_trainable_blocks(copy, len(encoder_blocks(copy)))
    elif s.trainable_layers is not None and not s.freeze_encoder:
        freeze_below_top(copy, s.trainable_layers)
    steps = max(1, s.epochs * (num_train // s.batch_size))
    schedule = warmup_cosine(s.learning_rate, steps, int(steps * s.warmup_fraction))
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=s.weight_decay)
    model.compile(optimizer=optimizer, loss=loss, metrics=[_accuracy_metric()])
    # Built now, over every weight that may train (with gradual unfreezing,
    # before the callback freezes the lower blocks): a Keras optimizer only
    # updates the variables it was built with.
    optimizer.build(model.trainable_variables)
    all_callbacks = list(callbacks or [])
    if s.gradual_unfreezing:
        all_callbacks.insert(
            0, GradualUnfreezing(copy, initial_blocks=s.trainable_layers or 0)
        )
    stopper = None
    if s.early_stopping_patience is not None:
        stopper = keras.callbacks.EarlyStopping(
            monitor=s.early_stopping_monitor,
            patience=s.early_stopping_patience,
            restore_best_weights=True,
        )
        all_callbacks.append(stopper)
    history = model.fit(
        train_ds,
        epochs=s.epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=val_ds,
        class_weight=weights,
        callbacks=all_callbacks,
        verbose=verbose,
        shuffle=False,
    )
    result = {
        "accuracy": None,
        "num_train": num_train,
        "num_val": _count(data.val),
        "num_test": _count(data.test),
        "val_loss": None,
        "val_accuracy": None,
        "epochs_run": len(history.epoch),
        "best_epoch": None if stopper is None else stopper.best_epoch + 1,
        "class_weight": weights,
        "history": history.history,
        "model": model,
    }
    if val_ds is not None:
        scores = model.evaluate(val_ds, verbose=0, return_dict=True)
        result["val_loss"] = float(scores["loss"])
        result["val_accuracy"] = float(scores["accuracy"])
    if test_ds is not None:
        scores = model.evaluate(test_ds, verbose=0, return_dict=True)
        result["accuracy"] = float(scores["accuracy"])
    return result


__all__ = [
    "FineTuneSettings",
    "build_classifier",
    "class_weights",
    "fine_tune",
    "freeze_below_top",
]
