"""Fine-tune an encoder with a classification head."""

import numbers
import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.checks import check_labels, check_same_length
from keras_ssl.compat import seed_scope
from keras_ssl.datasets.labeled_data import LabeledData
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
            f"{len(blocks)}] (the encoder's layers with weights, norms not "
            f"counted: {[layer.name for layer in blocks]}). "
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

    Args:
        encoder: `keras.Model` (see `build_classifier`).
        x_train, y_train: training inputs (e.g. token ids) and int labels.
        x_test, y_test: held-out inputs and labels; both may be `None` (no
            test evaluation: `accuracy` is then `None`).
        settings: a `FineTuneSettings`, or `None` for its defaults.
        callbacks: extra Keras callbacks for `fit`.
        verbose: Keras verbosity.
        validation_data: `(x_val, y_val)` instead of `validation_split`.
        num_classes: number of classes; defaults to the largest label + 1.
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
    with seed_scope(s.seed):
        return _train(
            s,
            encoder,
            (x_train, y_train),
            None if x_val is None else (x_val, y_val),
            None if x_test is None else (x_test, y_test),
            num_classes,
            weights,
            callbacks,
            verbose,
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


def _train(s, encoder, train, val, test, num_classes, weights, callbacks, verbose):
    """The seeded part of `fine_tune`: build, (probe,) fit, evaluate."""
    (x_train, y_train) = train
    copy = keras.models.clone_model(encoder)
    copy.set_weights(encoder.get_weights())
    model = build_classifier(
        copy, num_classes, s.dropout, head_norm=s.head_norm, head_l2=s.head_l2
    )
    if s.trainable_layers is not None:
        _check_trainable_layers(copy, s.trainable_layers)
    train_ds = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(len(x_train), seed=s.seed)
        .batch(s.batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    val_ds = None
    if val is not None:
        val_ds = tf.data.Dataset.from_tensor_slices(val).batch(256)
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
            class_weight=weights,
            verbose=verbose,
            shuffle=False,
        )
    copy.trainable = not s.freeze_encoder
    if s.gradual_unfreezing:  # every block trainable while the optimizer builds
        set_trainable_blocks(copy, len(encoder_blocks(copy)))
    elif s.trainable_layers is not None and not s.freeze_encoder:
        freeze_below_top(copy, s.trainable_layers)
    steps = max(1, s.epochs * (len(x_train) // s.batch_size))
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
        validation_data=val_ds,
        class_weight=weights,
        callbacks=all_callbacks,
        verbose=verbose,
        shuffle=False,
    )
    result = {
        "accuracy": None,
        "num_train": len(x_train),
        "num_val": 0 if val is None else len(val[0]),
        "num_test": 0 if test is None else len(test[0]),
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
    if test is not None:
        test_ds = tf.data.Dataset.from_tensor_slices(test).batch(256)
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
