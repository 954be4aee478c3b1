"""`FineTuneSettings`: the fine-tuning settings as one validated object."""

import dataclasses
import difflib

import numpy as np

from keras_ssl.checks import (
    check_choice,
    check_fraction,
    check_int_range,
    check_non_negative,
    check_positive,
    check_positive_int,
    check_seed,
    is_int,
)

EARLY_STOPPING_MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")


def _check_flag(name, value):
    if not isinstance(value, bool | np.bool_):
        raise ValueError(
            f"Argument `{name}` must be True or False. Received: {name}={value!r}"
        )
    return bool(value)


def _check_class_weight(value):
    """`None`, `"balanced"` or a dict copy; the ids are checked by `fine_tune`."""
    if value is None or value == "balanced":
        return value
    if isinstance(value, dict):
        # JSON keys are strings: "3" is class 3 again.
        return {
            int(k) if isinstance(k, str) and k.isdigit() else k: v
            for k, v in value.items()
        }
    raise ValueError(
        "Argument `class_weight` must be None, 'balanced' or a dict "
        f"{{class id: weight}}. Received: class_weight={value!r}"
    )


@dataclasses.dataclass(frozen=True)
class FineTuneSettings:
    """The settings of a fine-tuning run, validated once.

    One object carries what `keras_ssl.evaluation.fine_tune`,
    `keras_ssl.app.finetune`, `keras-ssl finetune` and
    `keras_ssl.tuning.FineTuneHyperModel` share. It is immutable: `replace`
    returns a changed copy, validated again. `get_config()` gives a plain
    dict (JSON-compatible but for the `class_weight` dict's int keys, which
    `from_config` also accepts as strings).

    The defaults are those of `keras_ssl.evaluation.fine_tune`. Other entry
    points start from their own defaults: `keras_ssl.app.finetune` from
    `keras_ssl.app.finetune.DEFAULT_SETTINGS` (5 epochs, batch size and
    learning rate chosen by modality, a 10% validation split), the hypermodel
    searches its own ranges of the searched settings.

    Args:
        epochs: passes over the training data, >= 1.
        batch_size: batch size, >= 1; `None` lets `keras_ssl.app.finetune`
            choose by modality (128 images / 64 text).
        learning_rate: peak learning rate, > 0; `None` lets
            `keras_ssl.app.finetune` choose by modality (1e-3 / 3e-3).
        weight_decay: AdamW (decoupled) weight decay, >= 0.
        warmup_fraction: fraction of the steps of linear warm-up, in [0, 1]
            (`keras_ssl.schedules.warmup_cosine`).
        dropout: dropout before the head, in [0, 1).
        head_norm: batch-normalize the features before the head.
        head_l2: L2 penalty on the head's kernel, >= 0.
        freeze_encoder: train the head only.
        trainable_layers: `None` (the whole encoder) or the number of top
            encoder blocks that train (`0`: the head only); with
            `gradual_unfreezing`, the blocks trainable in the first epoch.
        gradual_unfreezing: one more encoder block trains at each epoch
            (excludes `freeze_encoder`).
        probe_epochs: epochs of head-only training first (LP-FT), >= 0.
        validation_split: `None` or the fraction of the training data held
            out (stratified) for validation, in (0, 1).
        early_stopping_patience: `None` or the epochs without improvement
            before stopping (best weights restored), >= 0.
        early_stopping_monitor: what early stopping watches: `"val_loss"`,
            `"val_accuracy"`, `"loss"` or `"accuracy"`.
        class_weight: `None`, `"balanced"` or a dict `{class id: weight}`.
        seed: seed of the data order, the validation split and the head.

    Example:

    >>> settings = FineTuneSettings(epochs=3, learning_rate=1e-3)
    >>> settings.replace(dropout=0.2).dropout
    0.2
    >>> FineTuneSettings.from_config(settings.get_config()) == settings
    True
    >>> FineTuneSettings(dropout=1.5)
    Traceback (most recent call last):
    ...
    ValueError: Argument `dropout` must be a number in [0.0, 1.0). Received: dropout=1.5
    """  # noqa: E501

    epochs: int = 2
    batch_size: int | None = 64
    learning_rate: float | None = 5e-4
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    dropout: float = 0.1
    head_norm: bool = True
    head_l2: float = 0.0
    freeze_encoder: bool = False
    trainable_layers: int | None = None
    gradual_unfreezing: bool = False
    probe_epochs: int = 0
    validation_split: float | None = None
    early_stopping_patience: int | None = None
    early_stopping_monitor: str = "val_loss"
    class_weight: str | dict | None = None
    seed: int = 0

    def __post_init__(self):
        checked = {
            "epochs": check_positive_int("epochs", self.epochs),
            "batch_size": check_positive_int(
                "batch_size", self.batch_size, allow_none=True
            ),
            "learning_rate": check_positive(
                "learning_rate", self.learning_rate, allow_none=True
            ),
            "weight_decay": check_non_negative("weight_decay", self.weight_decay),
            "warmup_fraction": check_fraction("warmup_fraction", self.warmup_fraction),
            "dropout": check_fraction("dropout", self.dropout, high_open=True),
            "head_norm": _check_flag("head_norm", self.head_norm),
            "head_l2": check_non_negative("head_l2", self.head_l2),
            "freeze_encoder": _check_flag("freeze_encoder", self.freeze_encoder),
            "gradual_unfreezing": _check_flag(
                "gradual_unfreezing", self.gradual_unfreezing
            ),
            "probe_epochs": check_int_range("probe_epochs", self.probe_epochs, 0),
            "early_stopping_monitor": check_choice(
                "early_stopping_monitor",
                self.early_stopping_monitor,
                EARLY_STOPPING_MONITORS,
            ),
            "class_weight": _check_class_weight(self.class_weight),
            "seed": check_seed("seed", self.seed),
        }
        if self.trainable_layers is not None:
            if not is_int(self.trainable_layers) or self.trainable_layers < 0:
                raise ValueError(
                    "Argument `trainable_layers` must be None or an int >= 0. "
                    f"Received: trainable_layers={self.trainable_layers!r}"
                )
            checked["trainable_layers"] = int(self.trainable_layers)
        if self.validation_split is not None:
            checked["validation_split"] = _check_validation_split(self.validation_split)
        if self.early_stopping_patience is not None:
            if not is_int(self.early_stopping_patience) or (
                self.early_stopping_patience < 0
            ):
                raise ValueError(
                    "Argument `early_stopping_patience` must be None or an int "
                    f">= 0. Received: early_stopping_patience="
                    f"{self.early_stopping_patience!r}"
                )
            checked["early_stopping_patience"] = int(self.early_stopping_patience)
        if checked["gradual_unfreezing"] and checked["freeze_encoder"]:
            raise ValueError(
                "Arguments `gradual_unfreezing` and `freeze_encoder` exclude each "
                "other (gradual unfreezing trains the encoder). Received: both True"
            )
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @classmethod
    def field_names(cls):
        """The names of the settings, in order."""
        return tuple(field.name for field in dataclasses.fields(cls))

    @classmethod
    def check_names(cls, names):
        """Raises a `ValueError` naming the first of `names` that is no setting.

        Args:
            names: names to check (e.g. the keys of keyword overrides).
        """
        known = cls.field_names()
        for name in names:
            if name not in known:
                close = difflib.get_close_matches(str(name), known, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ValueError(
                    f"Argument `{name}` is not a fine-tuning setting. Expected "
                    f"one of {list(known)}.{hint}"
                )

    def replace(self, **changes):
        """A copy with `changes` (setting names and values), validated.

        Example:

        >>> FineTuneSettings().replace(epochs=4).epochs
        4
        """
        self.check_names(changes)
        return dataclasses.replace(self, **changes)

    def get_config(self):
        """The settings as a dict of plain values (`from_config` takes it)."""
        config = dataclasses.asdict(self)
        if isinstance(self.class_weight, dict):
            config["class_weight"] = dict(self.class_weight)
        return config

    @classmethod
    def from_config(cls, config):
        """Settings from `get_config()`'s dict (keys left out keep defaults)."""
        if not isinstance(config, dict):
            raise ValueError(
                "Argument `config` must be a dict of FineTuneSettings fields. "
                f"Received: config of type {type(config).__name__}"
            )
        cls.check_names(config)
        return cls(**config)

    @property
    def freeze(self):
        """The freeze strategy as `keras_ssl.app.finetune` names it.

        `"head"`, `"top-K"`, `"gradual"` or `"all"`; `None` for gradual
        unfreezing that starts with `K > 0` trainable blocks (no name).
        """
        if self.freeze_encoder:
            return "head"
        if self.gradual_unfreezing:
            return "gradual" if not self.trainable_layers else None
        if self.trainable_layers is not None:
            return f"top-{self.trainable_layers}"
        return "all"


def _check_validation_split(value):
    """`value` as a float strictly between 0 and 1 (`fine_tune`'s message)."""
    try:
        return check_fraction("validation_split", value, low_open=True, high_open=True)
    except ValueError:
        raise ValueError(
            "Argument `validation_split` must be a fraction strictly between 0 "
            f"and 1. Received: validation_split={value!r}"
        ) from None


def resolve_settings(settings, overrides, default=None):
    """`settings` (or `default`, or `FineTuneSettings()`) with `overrides`.

    What the entry points do with their `settings` argument and keyword
    overrides: the overrides win, and every value is validated.

    Args:
        settings: a `FineTuneSettings` or `None`.
        overrides: dict of setting names and values.
        default: the settings used when `settings` is `None` (the entry
            point's own defaults); `None`: `FineTuneSettings()`.

    Returns:
        A `FineTuneSettings`.

    Example:

    >>> resolve_settings(None, {"epochs": 4}).epochs
    4
    """
    if settings is None:
        settings = FineTuneSettings() if default is None else default
    elif not isinstance(settings, FineTuneSettings):
        raise ValueError(
            "Argument `settings` must be a FineTuneSettings or None. "
            f"Received: settings of type {type(settings).__name__}"
        )
    return settings.replace(**overrides) if overrides else settings
