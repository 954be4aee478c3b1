"""A keras-tuner `HyperModel` that searches pretraining hyperparameters."""

import math

import keras
import keras_tuner
import numpy as np
import tensorflow as tf

from keras_ssl import recipes
from keras_ssl.augmentation import ViewAugmenter
from keras_ssl.checks import check_images, check_name
from keras_ssl.compat import seed_scope
from keras_ssl.encoders import conv_encoder
from keras_ssl.evaluation.embed import embed
from keras_ssl.evaluation.knn_evaluate import knn_evaluate
from keras_ssl.metrics.effective_rank import effective_rank
from keras_ssl.recipes import shuffled_batches
from keras_ssl.schedules import capped_warmup_steps, warmup_cosine
from keras_ssl.tuning._space import declare_spec, is_int, is_real, parse_spec

# The methods with a search space in their recipe (`Recipe.search_space`):
# the two-view image methods, whose augmentation strength means something.
# As registered when this module was imported; the hypermodel reads the
# live registry.
PRETRAIN_METHODS = recipes.names(searchable=True)
# Those whose search space has a softmax temperature (SimCLR and MoCo).
TEMPERATURE_METHODS = tuple(
    name for name in PRETRAIN_METHODS if "temperature" in recipes.get(name).search_space
)
PRETRAIN_OBJECTIVES = ("knn_accuracy", "effective_rank")
#: The hyperparameters a search space may hold (the hypermodel's arguments).
SEARCH_SPACE_NAMES = (
    "learning_rate",
    "temperature",
    "crop_scale_min",
    "jitter_strength",
    "projection_dim",
)


def check_choice(name, value, choices):
    """Raises a `ValueError` naming `name` and `choices` unless `value` is one."""
    check_name(name, value, choices, cutoff=0.5)


class PretrainHyperModel(keras_tuner.HyperModel):
    """Searches the pretraining hyperparameters of a two-view image method.

    Every trial builds a fresh ConvNet encoder (`keras_ssl.encoders.
    conv_encoder`, the same initial weights in every trial), wraps it in the
    SSL method with a `ViewAugmenter` of the trial's strength, pretrains it
    for a fixed number of `steps` on unlabelled images (AdamW, warm-up +
    cosine schedule as in `keras_ssl.app.pretrain`) and then scores the
    frozen encoder without fine-tuning:

    - `objective="knn_accuracy"`: weighted kNN accuracy (k=`k`,
      `keras_ssl.evaluation.knn_evaluate`) of a small labelled split: a bank
      and a query set of labelled images, given to `fit` as `knn_data`.
    - `objective="effective_rank"`: the effective rank (RankMe) of the
      encoder's embeddings of held-out unlabelled images, given to `fit` as
      `rank_images`. No labels are used at all.

    `fit` returns a dict holding the objective (to maximise:
    `keras_tuner.Objective(objective, "max")`, see `tuner_objective`), the
    final pretraining `loss` and the other method metrics. A trial whose loss
    or score is not finite is marked failed.

    The search space (hyperparameter names as the tuner reports them; the
    default ranges come from the method's recipe, `Recipe.search_space` in
    `keras_ssl.recipes`):

    - `learning_rate`: peak learning rate, log scale (default 1e-4 to 1e-2).
    - `temperature`: softmax temperature, log scale (default 0.05 to 0.5);
      the methods whose recipe searches it (SimCLR and MoCo).
    - `crop_scale_min`: lower bound of the random crop's area fraction
      (`ViewAugmenter(crop_scale=(crop_scale_min, 1))`, default 0.08 to
      0.6); smaller is stronger augmentation.
    - `jitter_strength`: brightness and contrast jitter of the views
      (`ViewAugmenter(brightness=s, contrast=s)`, default 0 to 0.8).
    - `projection_dim`: size of the projection head's output; fixed at the
      method's default unless given.

    Each search-space argument narrows or fixes one hyperparameter: a single
    value fixes it (`temperature=0.1`), a list gives the choices
    (`projection_dim=[32, 64]`), a `(low, high)` tuple a range
    (`learning_rate=(1e-3, 1e-2)`).

    Args:
        method: a method with a search space in `keras_ssl.recipes`
            (`keras_ssl.recipes.names(searchable=True)`: `"simclr"`,
            `"byol"`, `"simsiam"`, `"barlow_twins"`, `"vicreg"`, `"moco"`,
            `"triplet"`).
        image_shape: `(height, width, channels)` of the images.
        objective: `"knn_accuracy"` or `"effective_rank"`.
        steps: pretraining steps per trial.
        batch_size: pretraining batch size.
        widths: channels of the encoder's stages.
        blocks_per_stage: residual blocks per encoder stage.
        learning_rate, temperature, crop_scale_min, jitter_strength,
            projection_dim: search space (see above); `None` keeps the
            default.
        k: neighbours of the kNN objective.
        seed: seed of the weights, views and data order (the same in every
            trial, so trials differ only in hyperparameters).
        name: name of the hypermodel.
        tunable: whether the hyperparameters are added to the search space.

    Example:

    >>> hypermodel = PretrainHyperModel("simclr", (28, 28, 1), steps=200)
    >>> tuner = make_tuner(  # doctest: +SKIP
    ...     "random", hypermodel, "runs/search", max_trials=6,
    ...     objective=hypermodel.tuner_objective)
    >>> tuner.search(  # doctest: +SKIP
    ...     x_unlabelled, knn_data=(x_bank, y_bank, x_query, y_query))

    Reference:
        [Garrido et al., 2023 (RankMe)](https://arxiv.org/abs/2210.02885);
        [Wu et al., 2018](https://arxiv.org/abs/1805.01978) (kNN monitor)
    """

    def __init__(
        self,
        method="simclr",
        image_shape=(28, 28, 1),
        objective="knn_accuracy",
        steps=200,
        batch_size=128,
        widths=(32, 64, 128),
        blocks_per_stage=0,
        learning_rate=None,
        temperature=None,
        crop_scale_min=None,
        jitter_strength=None,
        projection_dim=None,
        k=20,
        seed=0,
        name="pretrain",
        tunable=True,
    ):
        super().__init__(name=name, tunable=tunable)
        check_choice("method", method, recipes.names(searchable=True))
        check_choice("objective", objective, PRETRAIN_OBJECTIVES)
        self.recipe = recipes.get(method)
        image_shape = tuple(image_shape)
        if len(image_shape) != 3 or not all(is_int(d) and d > 0 for d in image_shape):
            raise ValueError(
                "Argument `image_shape` must be (height, width, channels) of "
                f"positive ints. Received: image_shape={image_shape!r}"
            )
        for arg, value in (("steps", steps), ("batch_size", batch_size), ("k", k)):
            if not is_int(value) or value < 1:
                raise ValueError(
                    f"Argument `{arg}` must be a positive int. Received: "
                    f"{arg}={value!r}"
                )
        given = {
            "learning_rate": learning_rate,
            "temperature": temperature,
            "crop_scale_min": crop_scale_min,
            "jitter_strength": jitter_strength,
            "projection_dim": projection_dim,
        }
        for arg, value in given.items():
            if value is not None and not self._searches(self.recipe, arg):
                having = [
                    other
                    for other in recipes.names(searchable=True)
                    if self._searches(recipes.get(other), arg)
                ]
                raise ValueError(
                    f"Argument `{arg}` only applies to {having}. "
                    f"Received: {arg}={value!r} with method={method!r}"
                )
        self.method = method
        self.image_shape = image_shape
        self.objective = objective
        self.steps = int(steps)
        self.batch_size = int(batch_size)
        self.widths = tuple(widths)
        self.blocks_per_stage = blocks_per_stage
        self.k = int(k)
        self.seed = seed
        # `make_tuner` checks the objective against these names.
        self.metric_names = (objective, "loss")
        self.space = {
            name: spec
            for name, value in given.items()
            if self._searches(self.recipe, name)
            and (spec := self._spec(name, value)) is not None
        }

    @staticmethod
    def _searches(recipe, name):
        """Whether `recipe`'s search space has `name` (`projection_dim`:
        every method's, fixed at the method's default unless given)."""
        return name == "projection_dim" or name in recipe.search_space

    @property
    def tuner_objective(self):
        """The `keras_tuner.Objective` to maximise."""
        return keras_tuner.Objective(self.objective, "max")

    # -- search space ------------------------------------------------------

    def _check_value(self, name, value):
        if name == "projection_dim":
            ok, expected = is_int(value) and value >= 1, "an int >= 1"
        elif name in ("learning_rate", "temperature"):
            ok = is_real(value) and value > 0 and math.isfinite(value)
            expected = "> 0"
        elif name == "crop_scale_min":
            ok, expected = is_real(value) and 0 < value < 1, "in (0, 1)"
        else:  # jitter_strength
            ok, expected = is_real(value) and 0 <= value <= 1, "in [0, 1]"
        if not ok:
            raise ValueError(
                f"Argument `{name}` must be {expected}: one value, a list of "
                f"choices or a (low, high) tuple of them. Received: {name}={value!r}"
            )
        return int(value) if name == "projection_dim" else float(value)

    def _spec(self, name, value):
        """`("fixed", v)`, `("choice", [...])`, `("range", low, high,
        sampling)` or `None` (use the method's default)."""
        if value is None:
            if name == "projection_dim":
                return None
            (low, high), sampling = self.recipe.search_space[name]
            return ("range", low, high, sampling)
        spec = parse_spec(name, value, lambda v: self._check_value(name, v))
        if spec[0] != "range":
            return spec
        _, low, high = spec
        if name == "projection_dim":
            return ("range", low, high, "linear")
        sampling = self.recipe.search_space[name][1]
        if sampling == "log" and low <= 0:  # pragma: no cover - checked above
            raise ValueError(f"Argument `{name}` must be > 0. Received: {value!r}")
        return ("range", low, high, sampling)

    def declare(self, hp):
        """Registers the search space in `hp`; returns this trial's values."""
        values = {}
        for name, spec in self.space.items():
            values[name] = declare_spec(hp, name, spec, name != "projection_dim")
        return values

    def declare_hyperparameters(self, hp):
        self.declare(hp)

    # -- model -------------------------------------------------------------

    def build(self, hp):
        """A compiled SSL model on a freshly initialised encoder."""
        values = self.declare(hp)
        with seed_scope(self.seed):
            return self._build_model(values)

    def _build_model(self, values):
        encoder = conv_encoder(
            self.image_shape,
            widths=self.widths,
            blocks_per_stage=self.blocks_per_stage,
        )
        strength = values["jitter_strength"]
        augmenter = ViewAugmenter(
            self.image_shape[:2],
            crop_scale=(values["crop_scale_min"], 1.0),
            brightness=strength,
            contrast=strength,
            seed=self.seed,
        )
        kwargs = {"augmenter": augmenter, "seed": self.seed}
        if "projection_dim" in values:
            kwargs["projection_dim"] = values["projection_dim"]
        if "temperature" in values:
            kwargs["temperature"] = values["temperature"]
        # The method's measured settings, as `keras_ssl.app.pretrain` uses.
        defaults = self.recipe.model_defaults(self.steps, self.image_shape)
        for key, value in defaults.items():
            kwargs.setdefault(key, value)
        model = self.recipe.model_class(encoder, **kwargs)
        schedule = warmup_cosine(
            values["learning_rate"],
            self.steps,
            capped_warmup_steps(self.steps, 200),
            alpha=0.1,
        )
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=1e-4)
        model.compile(optimizer=optimizer)
        return model

    # -- training and scoring ----------------------------------------------

    def _check_images(self, x, name):
        return check_images(name, np.asarray(x), shape=self.image_shape)

    def _features(self, model, x):
        x = np.asarray(x)
        x = x.astype("float32") / 255.0 if x.dtype == np.uint8 else x.astype("float32")
        return embed(model.encoder, x, batch_size=256)

    def score(self, model, knn_data=None, rank_images=None):
        """The objective of `model`'s encoder (a float; higher is better)."""
        if self.objective == "knn_accuracy":
            if knn_data is None or len(knn_data) != 4:
                raise ValueError(
                    "The knn_accuracy objective needs `knn_data=(x_bank, "
                    "y_bank, x_query, y_query)` of labelled images. Received: "
                    f"knn_data of type {type(knn_data).__name__}"
                )
            x_bank, y_bank, x_query, y_query = knn_data
            x_bank = self._check_images(x_bank, "knn_data[0]")
            x_query = self._check_images(x_query, "knn_data[2]")
            features = (self._features(model, x_bank), self._features(model, x_query))
            k = min(self.k, len(y_bank))
            result = knn_evaluate(
                None, None, y_bank, None, y_query, k=k, features=features
            )
            return float(result["accuracy"])
        if rank_images is None:
            raise ValueError(
                "The effective_rank objective needs `rank_images`, held-out "
                "unlabelled images. Received: rank_images=None"
            )
        rank_images = self._check_images(rank_images, "rank_images")
        if len(rank_images) < 2:
            raise ValueError(
                "Argument `rank_images` must hold at least 2 images. "
                f"Received: {len(rank_images)}"
            )
        return float(effective_rank(self._features(model, rank_images)))

    def fit(
        self,
        hp,
        model,
        x,
        knn_data=None,
        rank_images=None,
        callbacks=None,
        verbose=0,
        **kwargs,
    ):
        """Pretrains `model` for `steps` steps on the unlabelled images `x`
        (uint8 or floats in [0, 1]), then scores its encoder.

        Args:
            hp: the trial's `keras_tuner.HyperParameters`.
            model: the model `build(hp)` returned.
            x: unlabelled images `(N, *image_shape)`, `N >= batch_size`.
            knn_data: `(x_bank, y_bank, x_query, y_query)` for the
                `knn_accuracy` objective.
            rank_images: held-out unlabelled images for the
                `effective_rank` objective.
            callbacks: Keras callbacks (the tuner's).
            verbose: Keras verbosity of the pretraining.
            **kwargs: ignored (e.g. `epochs` a tuner may pass: a trial is
                always `steps` steps).

        Returns:
            dict with the objective, `loss` and the method's final metrics.
        """
        x = self._check_images(x, "x")
        if len(x) < self.batch_size:
            raise ValueError(
                f"Argument `x` must hold at least batch_size={self.batch_size} "
                f"images. Received: {len(x)} images"
            )
        # Checked before training, which a missing argument would waste.
        if self.objective == "knn_accuracy" and knn_data is None:
            self.score(model, knn_data=None)
        if self.objective == "effective_rank" and rank_images is None:
            self.score(model, rank_images=None)
        # Seeded as the model was built (the data order), leaving the
        # caller's global random state as it was.
        with seed_scope(self.seed):
            train = shuffled_batches(
                tf.data.Dataset.from_tensor_slices(x),
                len(x),
                self.batch_size,
                self.seed,
            )
            history = model.fit(
                train,
                epochs=1,
                steps_per_epoch=self.steps,
                callbacks=callbacks,
                verbose=verbose,
                shuffle=False,
            )
        final = {name: float(v[-1]) for name, v in history.history.items() if v}
        if not all(math.isfinite(v) for v in final.values()):
            raise keras_tuner.errors.FailedTrialError(
                f"The pretraining loss became {final.get('loss')}."
            )
        value = self.score(model, knn_data=knn_data, rank_images=rank_images)
        if not math.isfinite(value):
            raise keras_tuner.errors.FailedTrialError(
                f"The {self.objective} objective is {value}."
            )
        return {**final, self.objective: value}
