"""A keras-tuner `HyperModel` that fine-tunes a pretrained encoder."""

import math

import keras
import keras_tuner
import numpy as np
import tensorflow as tf

from keras_ssl.compat import seed_scope
from keras_ssl.evaluation.fine_tune import class_weights, freeze_below_top
from keras_ssl.evaluation.fine_tune_settings import (
    FineTuneSettings,
    resolve_settings,
)
from keras_ssl.evaluation.gradual_unfreezing import encoder_blocks
from keras_ssl.schedules import warmup_cosine
from keras_ssl.tuning._space import declare_spec, is_int, is_real, parse_spec

# name -> (kind, default spec). Specs: a scalar fixes the value, a list is a
# set of choices, a `(low, high)` tuple a range.
_FLOAT_SPACE = {
    "learning_rate": ((1e-5, 1e-2), "log"),
    "weight_decay": ((1e-6, 1e-1), "log"),
    "dropout": ((0.0, 0.5), "linear"),
}
_INT_SPACE = {
    "head_units": [0, 64, 256],
    "batch_size": [32, 64, 128],
}
HYPERPARAMETER_NAMES = (
    "learning_rate",
    "weight_decay",
    "dropout",
    "trainable_layers",
    "head_units",
    "batch_size",
)
# Settings of `FineTuneSettings` a trial has no use for: they must keep
# their defaults in the base settings.
_UNSUPPORTED = (
    "freeze_encoder",
    "gradual_unfreezing",
    "probe_epochs",
    "validation_split",
    "early_stopping_patience",
)


def count_blocks(encoder):
    """The number of blocks `freeze_below_top` can unfreeze in `encoder`.

    These are the encoder's layers with weights, normalisation layers not
    counted (for a Transformer: the embedding and each block), with a
    nested backbone counted by its stages or Transformer layers (see
    `keras_ssl.evaluation.gradual_unfreezing.encoder_blocks`).
    """
    return len(encoder_blocks(encoder))


class FineTuneHyperModel(keras_tuner.HyperModel):
    """Searches the fine-tuning hyperparameters of a pretrained encoder.

    Every trial builds a fresh clone of `encoder` holding a copy of its
    weights (the encoder passed in is never trained, so trials cannot leak
    into each other), puts a classification head on it and trains it with
    AdamW (decoupled weight decay) under a linear warm-up + cosine
    learning-rate schedule. The metric is named `accuracy`, so the tuner's
    objective is `val_accuracy` when validation data is given to `search`.

    The search space (hyperparameter names as the tuner reports them):

    - `learning_rate`: peak learning rate, log scale (default 1e-5 to 1e-2).
    - `weight_decay`: AdamW weight decay, log scale (default 1e-6 to 1e-1).
    - `dropout`: dropout before the head's layers (default 0 to 0.5).
    - `trainable_layers`: how many of the encoder's top layers are
      fine-tuned: `0` trains the head only (a linear probe trained by SGD),
      `num_blocks` (`"all"` when narrowing the space) the whole encoder,
      anything between the top `k` layers with weights (see
      `keras_ssl.evaluation.fine_tune.freeze_below_top`).
    - `head_units`: `0` for a linear head, otherwise the width of one hidden
      ReLU `Dense` layer before it.
    - `batch_size`: used in `fit`.

    Each search-space argument narrows or fixes one hyperparameter: a single
    value fixes it (`dropout=0.1`), a list gives the choices
    (`batch_size=[64, 128]`, `trainable_layers=[0, 2, "all"]`), a
    `(low, high)` tuple a range (`learning_rate=(1e-4, 1e-2)`). The values a
    search found (`best_hyperparameters.json` of `keras_ssl.app.tune`)
    can be passed back as keyword arguments to rebuild that model. A
    `keras_tuner.HyperParameters` given to the tuner overrides these too.

    `fit(hp, model, x, y, validation_data=..., epochs=...)` takes arrays (or a
    dict of arrays) and int labels. It re-compiles the model, because the
    length of the schedule depends on the number of examples and the batch
    size; a trial whose loss becomes NaN is marked failed.

    `settings` (a `keras_ssl.evaluation.FineTuneSettings`) is the base of
    every trial: the searched hyperparameters override its `learning_rate`,
    `weight_decay`, `dropout`, `trainable_layers` and `batch_size`
    (`trial_settings(hp)` gives a trial's settings); its `warmup_fraction`,
    `head_norm`, `head_l2`, `class_weight` and `seed` apply to every trial,
    and the tuner's `epochs` replaces its `epochs`. The keyword arguments
    `warmup_fraction`, `head_norm` and `seed` override the settings'.

    Args:
        encoder: `keras.Model` returning `(batch, dim)`, or a dict holding
            `output_key`.
        num_classes: number of classes, >= 2.
        learning_rate, weight_decay, dropout, trainable_layers, head_units,
            batch_size: search space (see above); `None` keeps the default.
        warmup_fraction: fraction of the steps of linear warm-up, in
            [0, 1); `None` keeps that of `settings` (default 0.1).
        head_norm: batch-normalize the features before the head; `None`
            keeps that of `settings` (default True).
        output_key: the output to use when the encoder returns a dict.
        seed: seed of the head initialisation and of the data order (the
            same for every trial, so trials differ only in hyperparameters);
            `None` keeps that of `settings` (default 0).
        name: name of the hypermodel.
        tunable: whether the hyperparameters are added to the search space.
        settings: the base `FineTuneSettings` of every trial (see above);
            `None`: `FineTuneSettings()`.

    Example:

    ```python
    settings = FineTuneSettings(class_weight="balanced", seed=1)
    hypermodel = FineTuneHyperModel(encoder, num_classes=10, dropout=0.1,
                                    settings=settings)
    tuner = make_tuner("random", hypermodel, "runs/search", max_trials=5)
    tuner.search(x, y, validation_data=(x_val, y_val), epochs=3)
    tuner.get_best_hyperparameters()[0].values
    ```
    """

    metric_names = ("loss", "accuracy", "val_loss", "val_accuracy")

    def __init__(
        self,
        encoder,
        num_classes,
        learning_rate=None,
        weight_decay=None,
        dropout=None,
        trainable_layers=None,
        head_units=None,
        batch_size=None,
        warmup_fraction=None,
        head_norm=None,
        output_key="pooled_output",
        seed=None,
        name="fine_tune",
        tunable=True,
        settings=None,
    ):
        super().__init__(name=name, tunable=tunable)
        if not isinstance(encoder, keras.Model):
            raise ValueError(
                "Argument `encoder` must be a keras.Model. "
                f"Received: encoder of type {type(encoder).__name__}"
            )
        if not is_int(num_classes) or num_classes < 2:
            raise ValueError(
                "Argument `num_classes` must be an int >= 2. "
                f"Received: num_classes={num_classes!r}"
            )
        if warmup_fraction is not None and (
            not is_real(warmup_fraction) or not 0 <= warmup_fraction < 1
        ):
            raise ValueError(
                "Argument `warmup_fraction` must be in [0, 1). "
                f"Received: warmup_fraction={warmup_fraction!r}"
            )
        overrides = {
            "warmup_fraction": warmup_fraction,
            "head_norm": head_norm,
            "seed": seed,
        }
        self.settings = resolve_settings(
            settings, {k: v for k, v in overrides.items() if v is not None}
        )
        if not self.settings.warmup_fraction < 1:
            raise ValueError(
                "Argument `warmup_fraction` must be in [0, 1). Received: "
                f"settings with warmup_fraction={self.settings.warmup_fraction!r}"
            )
        _check_supported(self.settings)
        self.encoder = encoder
        self.num_classes = int(num_classes)
        self.num_blocks = count_blocks(encoder)
        self.warmup_fraction = self.settings.warmup_fraction
        self.head_norm = self.settings.head_norm
        self.output_key = output_key
        self.seed = self.settings.seed
        given = {
            "learning_rate": learning_rate,
            "weight_decay": weight_decay,
            "dropout": dropout,
            "trainable_layers": trainable_layers,
            "head_units": head_units,
            "batch_size": batch_size,
        }
        self.space = {name: self._spec(name, value) for name, value in given.items()}

    # -- search space ------------------------------------------------------

    def _default_layers(self):
        n = self.num_blocks
        choices = {0, n}
        k = 1
        while k < n:
            choices.add(k)
            k *= 2
        return sorted(choices)

    def _check_value(self, name, value):
        """Validates one value of hyperparameter `name`; returns it."""
        if name == "trainable_layers":
            if value == "all":
                return self.num_blocks
            ok = is_int(value) and 0 <= value <= self.num_blocks
            expected = f'an int in [0, {self.num_blocks}] or "all"'
        elif name in ("learning_rate", "weight_decay"):
            ok = is_real(value) and (value > 0 or name == "weight_decay")
            ok = ok and value >= 0 and math.isfinite(value)
            expected = "> 0" if name == "learning_rate" else ">= 0"
        elif name == "dropout":
            ok = is_real(value) and 0 <= value < 1
            expected = "in [0, 1)"
        elif name == "head_units":
            ok = is_int(value) and value >= 0
            expected = "an int >= 0 (0: linear head)"
        else:  # batch_size
            ok = is_int(value) and value >= 1
            expected = "an int >= 1"
        if not ok:
            raise ValueError(
                f"Argument `{name}` must be {expected}: one value, a list of "
                f"choices or a (low, high) tuple of them. Received: "
                f"{name}={value!r}"
            )
        return int(value) if is_int(value) else value

    def _spec(self, name, value):
        """Normalises a user spec to `("fixed", v)`, `("choice", [...])` or
        `("range", low, high, sampling, step)`."""
        if value is None:
            if name in _FLOAT_SPACE:
                (low, high), sampling = _FLOAT_SPACE[name]
                step = 0.1 if name == "dropout" else None
                return ("range", low, high, sampling, step)
            if name == "trainable_layers":
                return ("choice", self._default_layers())
            return ("choice", list(_INT_SPACE[name]))

        def check(v):
            v = self._check_value(name, v)
            return float(v) if name in _FLOAT_SPACE else v

        spec = parse_spec(name, value, check)
        if spec[0] != "range":
            return spec
        _, low, high = spec
        if name in _FLOAT_SPACE:
            if name == "weight_decay" and low == 0:
                raise ValueError(
                    "Argument `weight_decay` as a range is searched on a "
                    "log scale, so its low end must be > 0. "
                    f"Received: weight_decay={value!r}"
                )
            sampling = _FLOAT_SPACE[name][1]
            return ("range", float(low), float(high), sampling, None)
        return ("range", int(low), int(high), "linear", None)

    def declare(self, hp):
        """Registers the search space in `hp`; returns this trial's values."""
        values = {}
        for name, spec in self.space.items():
            values[name] = declare_spec(hp, name, spec, name in _FLOAT_SPACE)
        return values

    def declare_hyperparameters(self, hp):
        self.declare(hp)

    def trial_settings(self, hp):
        """The `FineTuneSettings` of the trial `hp`: the base settings with the
        searched values (`head_units` is not a setting: see `declare`).

        Args:
            hp: the trial's `HyperParameters`.

        Returns:
            A `keras_ssl.evaluation.FineTuneSettings`.
        """
        values = self.declare(hp)
        return self.settings.replace(
            learning_rate=values["learning_rate"],
            weight_decay=values["weight_decay"],
            dropout=values["dropout"],
            trainable_layers=values["trainable_layers"],
            batch_size=values["batch_size"],
        )

    # -- model -------------------------------------------------------------

    def build(self, hp):
        """A compiled classifier on a fresh copy of the encoder."""
        values = self.declare(hp)
        with seed_scope(self.seed):
            copy = keras.models.clone_model(self.encoder)
            copy.set_weights(self.encoder.get_weights())
            k = values["trainable_layers"]
            if k >= self.num_blocks:
                copy.trainable = True
            elif k == 0:
                copy.trainable = False
            else:
                freeze_below_top(copy, k)
            model = self._classifier(copy, values["dropout"], values["head_units"])
            self._compile(model, values, learning_rate=values["learning_rate"])
        return model

    def _classifier(self, encoder, dropout, head_units):
        inputs = keras.Input(
            shape=encoder.input_shape[1:], dtype=encoder.inputs[0].dtype, name="inputs"
        )
        features = encoder(inputs)
        if isinstance(features, dict):
            if self.output_key not in features:
                raise ValueError(
                    f"The encoder returns a dict without `output_key`. Received: "
                    f"output_key={self.output_key!r}, outputs={sorted(features)}"
                )
            features = features[self.output_key]
        if len(features.shape) != 2:
            raise ValueError(
                "The encoder must return a vector per example. Received: output "
                f"shape={tuple(features.shape)}. Expected: (batch, dim)"
            )
        x = features
        if self.head_norm:
            x = keras.layers.BatchNormalization(name="head_norm")(x)
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
        if head_units:
            x = keras.layers.Dense(head_units, activation="relu", name="head_hidden")(x)
            x = keras.layers.Dropout(dropout, name="head_hidden_dropout")(x)
        head_l2 = self.settings.head_l2
        logits = keras.layers.Dense(
            self.num_classes,
            kernel_regularizer=keras.regularizers.L2(head_l2) if head_l2 else None,
            name="classifier_head",
        )(x)
        return keras.Model(inputs, logits, name="classifier")

    def _compile(self, model, values, learning_rate):
        model.compile(
            optimizer=keras.optimizers.AdamW(
                learning_rate, weight_decay=values["weight_decay"]
            ),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )

    def schedule(self, learning_rate, total_steps):
        """Linear warm-up to `learning_rate`, then cosine decay to 0.

        `keras_ssl.schedules.warmup_cosine` over `total_steps`, the first
        `warmup_fraction` of them warming up.
        """
        warmup_steps = int(total_steps * self.warmup_fraction)
        return warmup_cosine(learning_rate, total_steps, warmup_steps)

    # -- training ----------------------------------------------------------

    def fit(
        self,
        hp,
        model,
        x,
        y,
        validation_data=None,
        epochs=1,
        initial_epoch=0,
        callbacks=None,
        verbose="auto",
        **kwargs,
    ):
        """Trains `model` with the trial's batch size and schedule.

        The data order is seeded (`seed`) as in `build`; the settings'
        `class_weight` applies unless `class_weight` is passed here.

        Args:
            hp: the trial's `HyperParameters`.
            model: the model `build(hp)` returned.
            x: inputs, an array (or a dict of arrays) with one row per example.
            y: int labels.
            validation_data: optional `(x_val, y_val)`.
            epochs, initial_epoch, callbacks, verbose: as in `keras.Model.fit`
                (Hyperband sets `epochs` and `initial_epoch`).
            **kwargs: passed to `keras.Model.fit`.

        Returns:
            The `History`.
        """
        values = self.declare(hp)
        y = np.asarray(y)
        num = len(y)
        if num == 0:
            raise ValueError("Argument `y` must not be empty. Received: 0 labels")
        batch_size = min(values["batch_size"], num)
        steps = max(1, (epochs - initial_epoch) * (num // batch_size))
        self._compile(model, values, self.schedule(values["learning_rate"], steps))
        if self.settings.class_weight is not None and "class_weight" not in kwargs:
            kwargs["class_weight"] = class_weights(
                self.settings.class_weight, y, self.num_classes
            )
        # The same seeds as `build`: the data order depends on TensorFlow's
        # global seed, which the caller's state must not decide.
        with seed_scope(self.seed):
            train = (
                tf.data.Dataset.from_tensor_slices((x, y))
                .shuffle(num, seed=self.seed)
                .batch(batch_size, drop_remainder=True)
                .prefetch(tf.data.AUTOTUNE)
            )
            if validation_data is not None:
                validation_data = tf.data.Dataset.from_tensor_slices(
                    tuple(validation_data)
                ).batch(256)
            history = model.fit(
                train,
                validation_data=validation_data,
                epochs=epochs,
                initial_epoch=initial_epoch,
                callbacks=callbacks,
                verbose=verbose,
                shuffle=False,  # the tf.data pipeline shuffles
                **kwargs,
            )
        losses = history.history.get("loss", [])
        if losses and not np.all(np.isfinite(losses)):
            raise keras_tuner.errors.FailedTrialError(
                f"The training loss became {losses[-1]} "
                f"(learning_rate={values['learning_rate']:.3g})."
            )
        return history


def _check_supported(settings):
    """Raises if `settings` asks for what a search trial does not do."""
    defaults = FineTuneSettings()
    for name in _UNSUPPORTED:
        value = getattr(settings, name)
        if value != getattr(defaults, name):
            raise ValueError(
                f"FineTuneHyperModel does not use the setting `{name}` (a "
                "trial trains every layer `trainable_layers` names, for the "
                "tuner's epochs, on the data given to `search`). Received: "
                f"settings with {name}={value!r}; leave it at its default "
                f"{getattr(defaults, name)!r}"
            )
