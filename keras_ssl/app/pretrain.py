"""Pretraining workflow: data → a method's recipe → `model.fit` → run directory.

Everything specific to a method (its model, defaults, training stream,
monitoring panel) comes from its recipe in `keras_ssl.recipes`; this module
reads only the registry.
"""

import dataclasses
import logging
import math
import os

import keras
import numpy as np
import tensorflow as tf

from keras_ssl import recipes
from keras_ssl.app.resume import fit_resumable
from keras_ssl.app.run_directory import (
    check_same_config,
    checkpoint_directory,
    clean_run_directory,
    make_run_directory,
    read_json,
    read_lines,
    resolve_resume,
    save_model,
    write_json,
    write_lines,
)
from keras_ssl.callbacks import (
    CollapseGuard,
    LearningRateLogger,
    NonFiniteGuard,
    RunCheckpoint,
    TimeBudget,
    monitoring_callbacks,
)
from keras_ssl.checks import (
    check_bool,
    check_choice,
    check_name,
    check_positive,
    check_positive_int,
    check_seed,
    is_int,
)
from keras_ssl.compat import seed_scope
from keras_ssl.datasets import LabeledData, StreamedData, load_or_stream
from keras_ssl.distribute import num_workers, setup
from keras_ssl.recipes import (
    PretextContext,
    encoder_source,
    tokenize,  # noqa: F401 (re-exported)
)
from keras_ssl.schedules import WarmupCosine, capped_warmup_steps, warmup_cosine

logger = logging.getLogger("keras_ssl")

# The built-in methods, as registered when this module was imported
# (`keras_ssl.recipes.names()` is the live list, methods registered later
# included).
IMAGE_METHODS = {name: recipes.get(name).model_class for name in recipes.names("image")}
TEXT_METHODS = {name: recipes.get(name).model_class for name in recipes.names("text")}
TWO_VIEW_METHODS = tuple(name for name in recipes.names() if recipes.get(name).two_view)
METHODS = (*IMAGE_METHODS, *TEXT_METHODS)

#: Settings a resumed run may change (not compared with its `config.json`).
_MAY_CHANGE_ON_RESUME = (
    "time_budget",
    "budget_schedule",  # written once the schedule is sized
    "strategy",
    "jit_compile",
    "mixed_precision",
    "dtype_policy",
    "deterministic",
)


def check_method(method):
    """Raises a `ValueError` unless `method` is a registered method name."""
    check_name("method", method, recipes.names())


@dataclasses.dataclass
class _Run:
    """The arguments of one `pretrain` call, then what the run derives."""

    method: str
    dataset: object
    output_dir: str
    epochs: int
    batch_size: int
    learning_rate: float
    time_budget: float
    steps_per_epoch: int
    seed: int
    strategy: str
    jit_compile: object
    verbose: object
    model_kwargs: dict
    resume: object
    checkpoint_every: int
    callbacks: list
    mixed_precision: str
    monitor: bool
    collapse_guard: str
    deterministic: bool
    stream: object
    skip_invalid: bool
    encoding: str
    image_size: object
    color_mode: str
    encoder: object
    init_from: object
    recipe: object = None
    strategy_obj: object = None
    jit: bool = None
    resume_dir: str = None
    run_dir: str = None
    steps: int = None  # per epoch
    total_steps: int = None  # steps * epochs
    schedule: object = None
    budgeted: bool = False  # a time budget sizes the schedule
    budget_record: dict = None  # the sizing a resumed run recorded

    @property
    def log_dir(self):
        return os.path.join(self.run_dir, "logs")


def _check_positive_ints(run, *names):
    for name in names:
        if getattr(run, name) is not None:
            check_positive_int(name, getattr(run, name))


def _check(run):
    """Checks the arguments (before anything runs); sets `run.recipe`."""
    check_method(run.method)
    run.recipe = recipes.get(run.method)
    check_positive_int("epochs", run.epochs)
    _check_positive_ints(run, "steps_per_epoch")
    check_positive("time_budget", run.time_budget, allow_none=True)
    if run.time_budget is not None and not math.isfinite(run.time_budget):
        raise ValueError(
            "Argument `time_budget` must be a finite number of seconds > 0 or "
            f"None. Received: time_budget={run.time_budget!r}"
        )
    check_seed("seed", run.seed)
    check_choice("collapse_guard", run.collapse_guard, (None, "warn", "stop"))
    if run.collapse_guard is not None and not run.recipe.two_view:
        two_view = [name for name in recipes.names() if recipes.get(name).two_view]
        raise ValueError(
            "Argument `collapse_guard` needs a two-view method "
            f"({', '.join(two_view)}). Received: method={run.method!r}"
        )
    _check_positive_ints(run, "batch_size")
    if run.learning_rate is not None and not (
        isinstance(run.learning_rate, int | float) and run.learning_rate > 0
    ):
        raise ValueError(
            "Argument `learning_rate` must be > 0. "
            f"Received: learning_rate={run.learning_rate!r}"
        )
    _check_positive_ints(run, "checkpoint_every")
    check_bool("deterministic", run.deterministic)
    check_choice("stream", run.stream, ("auto", True, False))
    check_choice("color_mode", run.color_mode, (None, "grayscale", "rgb"))
    check_bool("skip_invalid", run.skip_invalid)
    if run.encoding is not None and not isinstance(run.encoding, str):
        raise ValueError(
            "Argument `encoding` must be a codec name. "
            f"Received: encoding={run.encoding!r}"
        )
    run.encoder = encoder_source.resolve_spec(run.encoder, run.init_from)
    run.init_from = None  # now in `run.encoder`


def _load_data(run):
    """The training data: in memory (`LabeledData`) or streamed
    (`StreamedData`, see `keras_ssl.datasets.load_or_stream`)."""
    dataset = run.dataset
    options = {}
    if run.skip_invalid:
        options["skip_invalid"] = True
    if run.encoding is not None:
        options["encoding"] = run.encoding
    if run.image_size is not None:
        options["image_size"] = tuple(run.image_size)
    if run.color_mode is not None:
        options["color_mode"] = run.color_mode
    is_path = isinstance(dataset, str | os.PathLike)
    if options and not is_path:
        raise ValueError(
            f"The options {sorted(options)} apply to a dataset given by name or "
            f"path. Received: dataset of type {type(dataset).__name__}; pass "
            "them to the loader that made it instead."
        )
    split = "train" if isinstance(dataset, str) and dataset == "fashion_mnist" else None
    try:
        data = load_or_stream(dataset, run.stream, split=split, **options)
    except TypeError as e:  # an option the source does not take
        raise ValueError(
            f"The options {sorted(options)} do not apply to dataset={dataset!r} "
            "(`skip_invalid` applies to image folders and shards, `image_size` "
            "to image folders and shards, `color_mode` to image folders, "
            f"`encoding` to text and CSV files). ({e})"
        ) from None
    if not isinstance(data, LabeledData | StreamedData):
        raise ValueError(
            "Argument `dataset` must be a dataset name, a path, a LabeledData, "
            "a StreamedData or a tf.data.Dataset. Received: dataset of type "
            f"{type(data).__name__}"
        )
    if isinstance(data, StreamedData):
        if data.num_examples is None and not run.steps_per_epoch:
            raise ValueError(
                f"The stream {data.name!r} has no known length. Received: "
                "steps_per_epoch=None. Expected steps_per_epoch (an epoch's "
                "length in steps)."
            )
        data.check_readable()
        logger.info("Streaming %r.", data)
    elif len(data) == 0:
        raise ValueError(f"The dataset is empty. Received: dataset={dataset!r}")
    return data


def _monitoring(run, model, data, size=3000):
    """Monitoring callbacks on a subset of `data`: 5/6 of it for kNN
    (labelled data only), 1/6 for the image/text panel and the Projector."""
    if isinstance(data, StreamedData):
        subset = data.sample(size, seed=run.seed + 1)
    else:
        subset = data.subset(min(size, len(data)), seed=run.seed + 1)
    x, y = subset.x, subset.y
    cut = len(x) * 5 // 6
    labelled = None
    if y is not None and cut >= 40 and len(np.unique(y[:cut])) > 1:
        labelled = (x[:cut], y[:cut])
    sample = (x[cut:], None if y is None else y[cut:]) if len(x) > cut else None
    return monitoring_callbacks(
        model,
        run.log_dir,
        panel=run.recipe.panel,  # the method's image / text panel
        labelled=labelled,
        sample=sample,
        label_names=data.label_names,
        seed=run.seed,
    )


def pretrain(
    method="simclr",
    dataset=None,
    output_dir="runs",
    epochs=5,
    batch_size=None,
    learning_rate=None,
    time_budget=None,
    steps_per_epoch=None,
    seed=0,
    strategy="auto",
    jit_compile="auto",
    verbose="auto",
    model_kwargs=None,
    resume=False,
    checkpoint_every=100,
    callbacks=None,
    mixed_precision="off",
    monitor=False,
    collapse_guard=None,
    deterministic=False,
    stream="auto",
    skip_invalid=False,
    encoding=None,
    image_size=None,
    color_mode=None,
    encoder=None,
    init_from=None,
):
    """Pretrains a self-supervised model and saves it in a run directory.

    The run directory holds `model.keras` (the whole SSL model, optimizer
    included), `encoder.keras`, `config.json`, `metrics.json`, TensorBoard
    logs under `logs/` and, for text, `vocabulary.txt`. Every file is
    written atomically (temporary file, then rename). While training, a
    `keras_ssl.callbacks.RunCheckpoint` in `checkpoint/` is updated every
    `checkpoint_every` steps and at each epoch end; it is deleted once the
    results are saved (`metrics.json`, written last, marks a finished run).

    Resume: `resume=True` continues the unfinished run of `method` under
    `output_dir` checkpointed most recently, `resume="<run dir>"` that run.
    Pass the same arguments as the interrupted run (checked against its
    `config.json`; only `time_budget`, `strategy`, `jit_compile`, `verbose`,
    `checkpoint_every` and `callbacks` may change): training continues from
    the last checkpoint (weights, optimizer and learning-rate position, EMA
    targets, queues, random generators, metrics, input position), so the
    final weights equal those of an uninterrupted run (bit for bit on CPU
    with deterministic kernels). DeepCluster keeps its pseudo-labels in the
    checkpoint, so it also resumes exactly mid-epoch. A finished run is
    never trained over: resuming it is an error. A time budget counts the
    time of the current process only.

    Args:
        method: the name of a method registered in `keras_ssl.recipes`
            (`keras_ssl.recipes.names()`): an image method (`"simclr"`,
            `"moco"`, `"triplet"`, `"byol"`, `"simsiam"`, `"barlow_twins"`,
            `"vicreg"`, `"autoencoder"`, `"rotation"`, `"mae"`,
            `"deepcluster"`) or a text method (`"mlm"`, `"mlm_nsp"` (MLM +
            next-sentence prediction on sentence pairs of each text),
            `"causal_lm"`, `"rtd"`, `"simcse"`), or one you registered.
        dataset: dataset name or path (see `keras_ssl.datasets.load` and
            `keras_ssl.datasets.stream`: a folder of TFRecord shards from
            `keras-ssl convert`, an image folder, a `.txt`/`.csv` file,
            `"tfds:<name>"`), a `LabeledData`, a `StreamedData` or a
            `tf.data.Dataset` of `uint8` images or string texts (single
            or batched examples); defaults to Fashion-MNIST / WordNet
            glosses.
        output_dir: parent folder of the run directory.
        epochs: passes over the data.
        batch_size: defaults to the method's (256 for images, 128 for
            text).
        learning_rate: peak learning rate (warm-up then cosine decay);
            defaults to the method's (2e-3 for images, 3e-3 for text).
        time_budget: optional wall-clock limit in seconds. The warm-up +
            cosine schedule is sized to the steps it allows: the mean step
            time is measured over the steps after the first (which
            compiles) until the warm-up ends (or a tenth of the budget has
            passed), and the schedule then decays to its final value at
            `steps_done + floor(0.95 * remaining / step_time)`, where
            training stops (see `keras_ssl.callbacks.TimeBudget`); when the
            epochs end first, they win. A momentum schedule sized by the
            run's steps (BYOL's, MoCo's, DINO's `total_steps`) is resized
            too, to the steps computed before the train step is traced again
            with it (once; the schedule is sized one step later, the retrace
            timed, so the momentum's end is a few steps past the run's). A
            resumed run keeps the sizing its first run recorded in
            `config.json` (`budget_schedule`) and measures nothing again.
            Under a multi-worker strategy the budget only stops training.
        steps_per_epoch: optional cap on steps per epoch.
        seed: random seed (weights, augmentation, masking, data order).
        strategy: `"auto"`, `"one_device"`, `"mirrored"` or `"multi_worker"`
            (`TF_CONFIG` describes the cluster; see `keras_ssl.distribute`).
            The global batch must divide by the number of replicas.
        jit_compile: `"auto"`, `True` or `False` (see
            `keras_ssl.distribute.resolve_jit_compile`).
        verbose: Keras verbosity (`"auto"` shows progress bars).
        model_kwargs: extra encoder/model settings (widths, hidden_dim,
            num_layers, sequence_length, vocabulary_size, temperature, ...).
        resume: `False` (new run), `True` (latest unfinished run of `method`
            under `output_dir`) or the path of a run directory.
        checkpoint_every: steps between checkpoints (also saved at every
            epoch end); `None` for epoch ends only.
        callbacks: extra Keras callbacks for `fit`.
        mixed_precision: `"off"`, `"auto"`, `"mixed_float16"` or
            `"mixed_bfloat16"` for the model built here (see
            `keras_ssl.distribute.set_mixed_precision`); the global Keras
            dtype policy is restored afterwards.
        monitor: also write, once per epoch, the kNN accuracy of a labelled
            monitor set (`knn_accuracy`, when the data has labels), an image
            or text panel (augmented views, reconstructions, masked-token
            predictions or generated text) and, at the end, the Embedding
            Projector (`keras_ssl.callbacks.monitoring_callbacks`). Costs a
            forward pass over ~3,000 examples per epoch.
        collapse_guard: `None`, `"warn"` or `"stop"`: for two-view methods
            (`Recipe.two_view`), report `embedding_std`/`effective_rank`
            (`collapse_metrics`) and warn or stop when the projections'
            standard deviation stays below a tenth of that of a uniform
            spread for 50 steps (`keras_ssl.callbacks.CollapseGuard`).
        deterministic: make every TensorFlow op deterministic
            (`tf.config.experimental.enable_op_determinism()`): the same
            seed then gives bit-identical runs, resumes included, at some
            cost in speed. This is process-wide and stays on afterwards.
        stream: `"auto"` (stream shards, TFDS, `tf.data` datasets and large
            folders or files; load small ones in memory), `True` or `False`
            (see `keras_ssl.datasets.load_or_stream`). A streamed source is
            read, decoded and shuffled by `tf.data` with flat memory; a
            resume skips the records already trained on before decoding.
        skip_invalid: skip (and count, `invalid_records_skipped` in
            `metrics.json`) images or records that do not decode instead
            of stopping with the file and record.
        encoding: the encoding of a text or CSV file (default UTF-8).
        image_size: `(height, width)` to resize the images of an image
            folder or shard folder to (needed when a folder's sizes differ).
        color_mode: `"grayscale"` (the default of image folders) or `"rgb"`
            for an image folder.
        encoder: the encoder to train: `None` (keras_ssl's own: `"conv"`
            for images, `"transformer"` for text), a name of
            `keras_ssl.encoders.IMAGE_BACKBONES` (Keras Applications, random
            weights) or `keras_ssl.encoders.TEXT_BACKBONES` (keras-hub, random
            weights, a vocabulary learned from the data), the path of a
            keras-hub preset folder or a `.keras` file (its weights, and for
            text its tokenizer), or a functional image `keras.Model` (see
            `keras_ssl.encoders.image_encoder_from_backbone`).
        init_from: continue pretraining from saved weights: a keras-hub
            preset folder, a `.keras` file (an encoder, or a keras_ssl model:
            its encoder, and for text its vocabulary) or a `keras-ssl
            pretrain` run folder. Excludes `encoder`.

    A non-finite loss stops training (`keras_ssl.callbacks.NonFiniteGuard`)
    and raises `NonFiniteLossError` naming the step and the last good
    checkpoint; nothing is saved as a result then.

    Returns:
        dict with `run_dir`, `model`, `model_path`, `log_dir`, `history`
        (every epoch, those before a resume included), `seconds` (training
        time, across resumes), `steps` (optimizer steps done),
        `stopped_by_time_budget`, `budget_sized` (whether a time budget sized
        the schedule), `budget_steps` (the steps it was sized to, or
        `None`), `step_seconds` (the step time measured for it, or `None`),
        `resumed_from_step` (`None` for a new run), and the method's final
        metrics (also in `metrics.json`).
    """
    run = _Run(**locals())
    _check(run)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
        logger.info("Op determinism on: same seed, same bits (XLA off).")
    # The strategy first: a multi-worker strategy must exist before other
    # TensorFlow ops run, and a bad name or batch fails before any data is
    # read or any folder is made.
    previous_policy = keras.config.dtype_policy()
    run.strategy_obj, run.jit = setup(
        strategy,
        batch_size=batch_size or run.recipe.batch_size,
        mixed_precision=mixed_precision,
        jit_compile=jit_compile,
    )
    try:
        return _train(run)
    finally:
        keras.config.set_dtype_policy(previous_policy)


def _build(run, data):
    """The method's `Pretext` (model and examples), compiled under the
    strategy with AdamW and the warm-up + cosine schedule."""
    recipe = run.recipe
    run.batch_size = run.batch_size or recipe.batch_size
    run.learning_rate = run.learning_rate or recipe.learning_rate
    kw = dict(run.model_kwargs or {})
    if run.collapse_guard is not None:
        kw["collapse_metrics"] = True
    # A resumed text run reads its own vocabulary back.
    vocabulary_path = os.path.join(run.run_dir, "vocabulary.txt")
    saved = None
    if run.resume_dir is not None and os.path.isfile(vocabulary_path):
        saved = read_lines(vocabulary_path)
    context = PretextContext(
        dataset=run.dataset,
        seed=run.seed,
        batch_size=run.batch_size,
        epochs=run.epochs,
        steps_per_epoch=run.steps_per_epoch,
        model_kwargs=kw,
        vocabulary=saved,
        num_workers=num_workers(run.strategy_obj),
        encoder=run.encoder,
    )
    with run.strategy_obj.scope():
        pretext = recipe.build(data, context)
        if pretext.vocabulary is not None and saved is None:
            write_lines(vocabulary_path, pretext.vocabulary)
        num = pretext.num_examples
        if num is not None and num < run.batch_size:
            raise ValueError(
                f"Argument `batch_size` must not exceed the dataset size. "
                f"Received: batch_size={run.batch_size} for {num} examples"
            )
        run.steps = run.steps_per_epoch if num is None else num // run.batch_size
        if run.steps_per_epoch:
            run.steps = min(run.steps, run.steps_per_epoch)
        total = run.total_steps = run.steps * run.epochs
        warmup = capped_warmup_steps(total, 200)
        if run.budgeted:  # its length is set once the step time is known
            schedule = WarmupCosine(run.learning_rate, total, warmup, alpha=0.1)
        else:
            schedule = warmup_cosine(run.learning_rate, total, warmup, alpha=0.1)
        run.schedule = schedule
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=1e-4)
        pretext.model.compile(optimizer=optimizer, jit_compile=run.jit)
    return pretext


def _fit_callbacks(run, model, data, guard, budget):
    """The callbacks of `fit`, the guards first."""
    guards = [guard]
    if run.collapse_guard is not None:
        # A uniform spread of unit vectors in d dimensions has std 1/sqrt(d)
        # per dimension; a tenth of that is a collapse (SimSiam paper, §4).
        dim = int(getattr(model, "projection_dim", 0) or 1)
        guards.append(
            CollapseGuard(
                min_embedding_std=0.1 / dim**0.5, patience=50, mode=run.collapse_guard
            )
        )
    monitors = _monitoring(run, model, data) if run.monitor else []
    return [
        *guards,
        budget,
        LearningRateLogger(),
        # Before TensorBoard, so `knn_accuracy` reaches its epoch summaries.
        *monitors,
        # Per-epoch scalars: with an integer `update_freq`, Keras 3.15 also
        # applies the batch filter to the epoch summaries and drops them.
        keras.callbacks.TensorBoard(run.log_dir),
        *(run.callbacks or []),
    ]


def _config(run, pretext):
    """The run's `config.json`."""
    return {
        "method": run.method,
        "dataset": str(run.dataset),
        "num_examples": pretext.num_examples,
        "epochs": run.epochs,
        "steps_per_epoch": run.steps,
        "batch_size": run.batch_size,
        "learning_rate": run.learning_rate,
        "time_budget": run.time_budget,
        "seed": run.seed,
        "strategy": run.strategy,
        "jit_compile": run.jit,
        "mixed_precision": run.mixed_precision,
        "dtype_policy": keras.config.dtype_policy().name,
        "deterministic": run.deterministic,
        "model_kwargs": run.model_kwargs or {},
        "encoder": encoder_source.describe(run.encoder),
        **pretext.extra,
    }


def _start_or_resume(run, model, config, checkpoint):
    """Writes a new run's config; checks a resumed one's and restores it."""
    if run.resume_dir is None:
        write_json(os.path.join(run.run_dir, "config.json"), config)
        return
    check_same_config(run.run_dir, config, ignore=_MAY_CHANGE_ON_RESUME)
    with run.strategy_obj.scope():
        checkpoint.restore(model)
    logger.info(
        "Resuming %s from step %d (epoch %d, step %d of %d).",
        *(
            run.run_dir,
            checkpoint.step,
            checkpoint.epoch + 1,
            checkpoint.batch,
            run.steps,
        ),
    )


def _budget_record(run):
    """Reads what a resumed run's `config.json` says about its time budget:
    sets `run.budgeted` and `run.budget_record` (the schedule's sizing)."""
    saved, path = {}, None
    if run.resume_dir is not None:
        path = os.path.join(run.resume_dir, "config.json")
        saved = read_json(path) if os.path.isfile(path) else {}
    record = saved.get("budget_schedule")
    if record is not None and not (
        isinstance(record, dict)
        and isinstance(record.get("budget_sized"), bool)
        and is_int(record.get("total_steps"))
        and is_int(record.get("at_step"))
    ):
        raise ValueError(
            f"The run's config.json has a malformed `budget_schedule`. Received: "
            f"budget_schedule={record!r} in {path!r}. Expected the dict the run "
            "wrote (budget_sized, total_steps, at_step, ...)."
        )
    run.budget_record = record
    run.budgeted = (
        run.time_budget is not None
        or saved.get("time_budget") is not None
        or record is not None
    )


def _sized_model(run, model):
    """Whether `model` has a `total_steps` (a momentum schedule) sized to the
    run, which the time budget then resizes."""
    total = getattr(model, "total_steps", None)
    return is_int(total) and total == run.total_steps


def _time_budget(run, model, config):
    """The run's `TimeBudget`: it sizes the schedule (and a momentum schedule
    sized by the run's steps) to the budget, or replays a resumed run's
    sizing, and records it in `config.json`."""
    if not run.budgeted:
        return TimeBudget(run.time_budget)
    if num_workers(run.strategy_obj) > 1 and run.budget_record is None:
        # Each worker would time its own steps and might stop at another one.
        logger.info("Time budget: a hard limit only under a multi-worker strategy.")
        return TimeBudget(run.time_budget)
    replay = run.budget_record

    def retrace(total_steps):  # the momentum schedule is read when traced
        model.total_steps = total_steps
        model.make_train_function(force=True)

    def on_sized(sizing):
        if replay is None:
            config["budget_schedule"] = sizing
            write_json(os.path.join(run.run_dir, "config.json"), config)
        seconds = sizing.get("step_seconds") or 0.0
        if not sizing["budget_sized"]:
            logger.info(
                "Time budget: the %d steps of %d epochs fit (%.4f s a step); "
                "the schedule keeps its length.",
                *(run.total_steps, run.epochs, seconds),
            )
            return
        logger.info(
            "Time budget: %s the schedule to %d steps (of %d by epochs) at step "
            "%d, %.4f s a step; it decays to its final value at step %d, where "
            "training stops.",
            *("kept" if replay else "sized", sizing["total_steps"], run.total_steps),
            *(sizing["at_step"], seconds, sizing["total_steps"]),
        )

    return TimeBudget(
        run.time_budget,
        schedule=run.schedule,
        retrace=retrace if _sized_model(run, model) else None,
        replay=replay,
        on_sized=on_sized,
    )


def _save(run, model, history, checkpoint, budget, data):
    """Saves the model, the encoder and `metrics.json` (written last)."""
    model_path = save_model(model, os.path.join(run.run_dir, "model.keras"))
    save_model(model.encoder, os.path.join(run.run_dir, "encoder.keras"))
    final = {k: v[-1] for k, v in history.history.items() if v}
    if isinstance(data, StreamedData) and data.skip_invalid:
        final["invalid_records_skipped"] = data.skipped
    sizing = budget.sizing or run.budget_record or {}
    sized = bool(sizing.get("budget_sized", False))
    steps = int(model.optimizer.iterations.numpy())
    metrics = {
        **final,
        "seconds": checkpoint.seconds,
        "steps": steps,
        "stopped_by_time_budget": budget.stopped_early,
        "budget_sized": sized,
        "budget_steps": sizing["total_steps"] if sized else None,
        "step_seconds": sizing.get("step_seconds"),
        "resumed_from_step": checkpoint.resumed_from,
    }
    if sized:
        logger.info(
            "Trained %d of the %d steps the time budget allowed, in %.1f s.",
            *(steps, sizing["total_steps"], checkpoint.seconds),
        )
    write_json(os.path.join(run.run_dir, "metrics.json"), metrics)
    checkpoint.delete()
    return {
        "run_dir": run.run_dir,
        "model": model,
        "model_path": model_path,
        "log_dir": run.log_dir,
        "history": history.history,
        **metrics,
    }


def _train_seeded(run, data):
    """Builds, trains and saves the model (inside the run's seed scope)."""
    if run.resume_dir is None:
        run.run_dir = make_run_directory(run.output_dir, run.method)
    else:
        run.run_dir = run.resume_dir
        clean_run_directory(run.run_dir)
    _budget_record(run)
    pretext = _build(run, data)
    model = pretext.model
    # The input is an endless stream of batches built afresh for each `fit`
    # (see `fit_resumable`): a resumed run skips the batches already trained
    # on and then sees the same batches as an uninterrupted one.
    stream = run.recipe.training_stream(pretext, run.batch_size, run.seed)
    config = _config(run, pretext)
    budget = _time_budget(run, model, config)
    # The guard reports; the error is raised after `fit` (the checkpoint's
    # own callbacks run after these), before anything is saved.
    guard = NonFiniteGuard(
        checkpoint=checkpoint_directory(run.run_dir), raise_error=False
    )
    callbacks = _fit_callbacks(run, model, data, guard, budget)
    checkpoint = RunCheckpoint(
        checkpoint_directory(run.run_dir),
        save_freq=run.checkpoint_every,
        extra_variables=stream.extra_variables,
    )
    _start_or_resume(run, model, config, checkpoint)
    stream.attach(checkpoint)
    record = run.budget_record
    try:
        if (
            record
            and record["budget_sized"]
            and (checkpoint.step >= record["total_steps"])
        ):  # interrupted once its budget-sized steps were done
            history = checkpoint.training_history()
        else:
            history = fit_resumable(
                model,
                checkpoint,
                stream,
                epochs=run.epochs,
                steps_per_epoch=run.steps,
                callbacks=callbacks,
                epoch_start_callbacks=stream.epoch_start_callbacks,
                verbose=run.verbose,
                shuffle=False,  # the tf.data pipeline shuffles
            )
    except (tf.errors.InvalidArgumentError, tf.errors.DataLossError) as e:
        if not isinstance(data, StreamedData):
            raise
        # A record that does not decode: name it (the last checkpoint stays).
        raise data.describe_error(e) from None
    if guard.error is not None:  # nothing is saved as if it were fine
        raise guard.error
    return _save(run, model, history, checkpoint, budget, data)


def _train(run):
    """`pretrain` once the strategy exists (its arguments, checked)."""
    if run.dataset is None:
        run.dataset = run.recipe.default_dataset
    run.resume_dir = resolve_resume(run.resume, run.output_dir, run.method)
    if run.resume_dir is not None:  # fail fast, before loading data
        check_same_config(
            run.resume_dir,
            {"method": run.method, "dataset": str(run.dataset)},
            only=("method", "dataset"),
        )
    data = _load_data(run)
    # Seeded from here on (weights, augmentation, masking, data order); the
    # caller's global random state is restored afterwards.
    with seed_scope(run.seed):
        return _train_seeded(run, data)
