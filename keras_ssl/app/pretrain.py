"""Pretraining workflows: data → pretext → `model.fit` → `.keras` file."""

import logging
import os

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.app.run_directory import (
    check_same_config,
    checkpoint_directory,
    clean_run_directory,
    make_run_directory,
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
from keras_ssl.datasets import LabeledData, load, make_sentence_pairs
from keras_ssl.distribute import setup
from keras_ssl.encoders import conv_encoder, transformer_decoder, transformer_encoder
from keras_ssl.models import (
    BYOL,
    Autoencoder,
    BarlowTwins,
    CausalLanguageModel,
    DeepCluster,
    MaskedAutoencoder,
    MaskedLanguageModel,
    MoCo,
    ReplacedTokenDetection,
    RotationPrediction,
    SimCLR,
    SimCSE,
    SimSiam,
    TripletModel,
    VICReg,
)
from keras_ssl.tokenizers import (
    TextPreprocessor,
    check_texts,
    count_truncated,
    train_word_piece_vocabulary,
)

logger = logging.getLogger("keras_ssl")

IMAGE_METHODS = {
    "simclr": SimCLR,
    "byol": BYOL,
    "simsiam": SimSiam,
    "barlow_twins": BarlowTwins,
    "vicreg": VICReg,
    "moco": MoCo,
    "triplet": TripletModel,
    "autoencoder": Autoencoder,
    "rotation": RotationPrediction,
    "mae": MaskedAutoencoder,
    "deepcluster": DeepCluster,
}
TWO_VIEW_METHODS = (
    "simclr",
    "moco",
    "triplet",
    "byol",
    "simsiam",
    "barlow_twins",
    "vicreg",
)
TEXT_METHODS = {
    "mlm": MaskedLanguageModel,
    "mlm_nsp": MaskedLanguageModel,  # with next-sentence prediction
    "causal_lm": CausalLanguageModel,
    "rtd": ReplacedTokenDetection,
    "simcse": SimCSE,
}
METHODS = (*IMAGE_METHODS, *TEXT_METHODS)


def _monitoring(model, log_dir, data, seed, size=3000):
    """Monitoring callbacks on a subset of `data`: 5/6 of it for kNN
    (labelled data only), 1/6 for the image/text panel and the Projector."""
    subset = data.subset(min(size, len(data)), seed=seed + 1)
    x, y = subset.x, subset.y
    cut = len(x) * 5 // 6
    labelled = None
    if y is not None and cut >= 40 and len(np.unique(y[:cut])) > 1:
        labelled = (x[:cut], y[:cut])
    sample = (x[cut:], None if y is None else y[cut:]) if len(x) > cut else None
    return monitoring_callbacks(
        model,
        log_dir,
        labelled=labelled,
        sample=sample,
        label_names=data.label_names,
        seed=seed,
    )


def check_method(method):
    if method not in METHODS:
        import difflib

        close = difflib.get_close_matches(str(method), METHODS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"Unknown method. Received: method={method!r}. Expected one of "
            f"{list(METHODS)}.{hint}"
        )


def _positive_int(name, value):
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
        raise ValueError(
            f"Argument `{name}` must be a positive int. Received: {name}={value!r}"
        )


def _load_data(dataset, split):
    data = load(dataset, split=split) if isinstance(dataset, str) else dataset
    if not isinstance(data, LabeledData):
        raise ValueError(
            "Argument `dataset` must be a dataset name, a path, or a "
            f"LabeledData. Received: dataset of type {type(data).__name__}"
        )
    if len(data) == 0:
        raise ValueError(f"The dataset is empty. Received: dataset={dataset!r}")
    return data


def _schedule(learning_rate, total_steps, warmup_steps):
    warmup_steps = min(warmup_steps, max(total_steps // 5, 1))
    return keras.optimizers.schedules.CosineDecay(
        0.0,
        decay_steps=max(total_steps - warmup_steps, 1),
        alpha=0.1,
        warmup_target=learning_rate,
        warmup_steps=warmup_steps,
    )


def _total_steps(num, batch_size, epochs, steps_per_epoch):
    steps = max(num // batch_size, 1)
    if steps_per_epoch:
        steps = min(steps, steps_per_epoch)
    return steps * epochs


def tokenize(preprocessor, texts, second_texts=None, batch_size=1024):
    """Token ids, computed once with a parallel `tf.data` map.

    With `second_texts`, packs sentence pairs (`TextPreprocessor.pack_pair`).
    """
    texts = np.asarray(texts, dtype=object).astype(str)
    if second_texts is None:
        ds = tf.data.Dataset.from_tensor_slices(texts).batch(batch_size)
        ds = ds.map(preprocessor, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        second_texts = np.asarray(second_texts, dtype=object).astype(str)
        ds = tf.data.Dataset.from_tensor_slices((texts, second_texts))
        ds = ds.batch(batch_size).map(
            preprocessor.pack_pair, num_parallel_calls=tf.data.AUTOTUNE
        )
    return np.concatenate([batch.numpy() for batch in ds], axis=0)


def _text_model(method, data, dataset, run_dir, kw, seed, resuming=False):
    """Vocabulary, preprocessor, Transformer and pretext model for text.

    When resuming, the run's own `vocabulary.txt` is read back.
    """
    if data.x.dtype != object:
        raise ValueError(
            f"{method} needs text. Received: dataset={dataset!r} with "
            f"x.dtype={data.x.dtype}"
        )
    texts, dropped = check_texts(data.x, "texts", empty="drop")
    if dropped:
        logger.warning("Dropped %d empty texts of %d.", dropped, len(data.x))
    length = kw.pop("sequence_length", 32)
    vocabulary_size = kw.pop("vocabulary_size", 4000)
    vocab_path = os.path.join(run_dir, "vocabulary.txt")
    if resuming and os.path.isfile(vocab_path):
        vocab = read_lines(vocab_path)
    else:
        vocab = train_word_piece_vocabulary(texts, vocabulary_size)
        write_lines(vocab_path, vocab)
    preprocessor = TextPreprocessor(vocab, length)
    hidden = kw.pop("hidden_dim", 64)
    # A causal LM needs a decoder (causal self-attention); the others read
    # the whole sentence.
    build = transformer_decoder if method == "causal_lm" else transformer_encoder
    encoder = build(
        len(vocab),
        length,
        hidden_dim=hidden,
        num_layers=kw.pop("num_layers", 2),
        num_heads=kw.pop("num_heads", 2),
        intermediate_dim=kw.pop("intermediate_dim", 2 * hidden),
        dropout=kw.pop("dropout", 0.1),
    )
    if method != "causal_lm":
        kw.setdefault("seed", seed)
    extra = {"vocabulary_size": len(vocab)}
    if method == "mlm_nsp":
        # BERT: MLM on sentence pairs, half of them true next sentences.
        pairs = make_sentence_pairs(texts, seed=seed)
        model = MaskedLanguageModel(
            encoder, preprocessor, next_sentence_prediction=True, **kw
        )
        ids = tokenize(preprocessor, pairs.first, pairs.second)
        truncated = count_truncated(preprocessor, pairs.first, pairs.second)
        train = {"token_ids": ids, "next_sentence_label": pairs.is_next}
        extra.update(sentence_pairs=len(ids), documents_without_pairs=pairs.num_skipped)
        what = "sentence pairs"
    else:
        model = TEXT_METHODS[method](encoder, preprocessor, **kw)
        ids = train = tokenize(preprocessor, texts)
        truncated = count_truncated(preprocessor, texts)
        what = "texts"
    if truncated:
        logger.warning(
            "%d of %d %s were truncated to %d tokens.",
            *(truncated, len(ids), what, length),
        )
    extra["truncated_texts"] = truncated
    return model, tf.data.Dataset.from_tensor_slices(train), len(ids), extra


class _DeepClusterStream:
    """DeepCluster's endless input stream, built afresh for each `fit`.

    Each `make_training_data` call makes a new pseudo-label variable; the
    stream keeps one `Reclustering` callback and points it (and the
    checkpoint) at the variable of the newest dataset, which starts from
    the current labels.
    """

    def __init__(self, model, images, batch_size, seed):
        self.model, self.images = model, images
        self.batch_size, self.seed = batch_size, seed
        self._unused, self.reclustering = model.make_training_data(
            images, batch_size, seed
        )
        self.checkpoint = None

    def __call__(self):
        if self._unused is not None:
            data, self._unused = self._unused, None
        else:
            data, fresh = self.model.make_training_data(
                self.images, self.batch_size, self.seed
            )
            fresh.labels.assign(self.reclustering.labels)
            self.reclustering.labels = fresh.labels
            if self.checkpoint is not None:
                self.checkpoint.extra_variables[0] = fresh.labels
        # tf.data's automatic prefetch would read the labels of the first
        # batch of an epoch before the epoch's re-clustering rewrote them
        # (stale pseudo-labels; measured with TF 2.21 unless op determinism
        # is enabled, which turns that optimisation off).
        options = tf.data.Options()
        options.experimental_optimization.inject_prefetch = False
        return data.repeat().with_options(options)


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
        method: an image method (`"simclr"`, `"moco"`, `"triplet"`,
            `"byol"`, `"simsiam"`, `"barlow_twins"`, `"vicreg"`,
            `"autoencoder"`, `"rotation"`, `"mae"`, `"deepcluster"`) or a
            text method (`"mlm"`, `"mlm_nsp"` (MLM + next-sentence
            prediction on sentence pairs of each text), `"causal_lm"`,
            `"rtd"`, `"simcse"`).
        dataset: dataset name or path (see `keras_ssl.datasets.load`) or a
            `LabeledData`; defaults to Fashion-MNIST / WordNet glosses.
        output_dir: parent folder of the run directory.
        epochs: passes over the data.
        batch_size: defaults to 256 (images) / 128 (text).
        learning_rate: peak learning rate (warm-up then cosine decay);
            defaults to 2e-3 (images) / 3e-3 (text).
        time_budget: optional wall-clock limit in seconds.
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
        collapse_guard: `None`, `"warn"` or `"stop"`: for two-view methods,
            report `embedding_std`/`effective_rank` (`collapse_metrics`) and
            warn or stop when the projections' standard deviation stays
            below a tenth of that of a uniform spread for 50 steps
            (`keras_ssl.callbacks.CollapseGuard`).

        deterministic: make every TensorFlow op deterministic
            (`tf.config.experimental.enable_op_determinism()`): the same
            seed then gives bit-identical runs, resumes included, at some
            cost in speed. This is process-wide and stays on afterwards.

    A non-finite loss stops training (`keras_ssl.callbacks.NonFiniteGuard`)
    and raises `NonFiniteLossError` naming the step and the last good
    checkpoint; nothing is saved as a result then.

    Returns:
        dict with `run_dir`, `model`, `model_path`, `log_dir`, `history`
        (every epoch, those before a resume included), `seconds` (training
        time, across resumes), `resumed_from_step` (`None` for a new run),
        and the method's final metrics.
    """
    check_method(method)
    _positive_int("epochs", epochs)
    if steps_per_epoch is not None:
        _positive_int("steps_per_epoch", steps_per_epoch)
    if time_budget is not None and (
        isinstance(time_budget, bool)
        or not isinstance(time_budget, int | float)
        or not time_budget > 0
    ):
        raise ValueError(
            "Argument `time_budget` must be a number of seconds > 0 or None. "
            f"Received: time_budget={time_budget!r}"
        )
    if (
        isinstance(seed, bool)
        or not isinstance(seed, int | np.integer)
        or not 0 <= seed < 2**32
    ):
        raise ValueError(
            f"Argument `seed` must be an int in [0, 2**32 - 1]. Received: seed={seed!r}"
        )
    if collapse_guard not in (None, "warn", "stop"):
        raise ValueError(
            "Argument `collapse_guard` must be None, 'warn' or 'stop'. "
            f"Received: collapse_guard={collapse_guard!r}"
        )
    if collapse_guard is not None and method not in TWO_VIEW_METHODS:
        raise ValueError(
            "Argument `collapse_guard` needs a two-view method "
            f"({', '.join(TWO_VIEW_METHODS)}). Received: method={method!r}"
        )
    if batch_size is not None:
        _positive_int("batch_size", batch_size)
    if learning_rate is not None and not (
        isinstance(learning_rate, int | float) and learning_rate > 0
    ):
        raise ValueError(
            "Argument `learning_rate` must be > 0. "
            f"Received: learning_rate={learning_rate!r}"
        )
    if checkpoint_every is not None:
        _positive_int("checkpoint_every", checkpoint_every)
    if not isinstance(deterministic, bool):
        raise ValueError(
            "Argument `deterministic` must be True or False. "
            f"Received: deterministic={deterministic!r}"
        )
    if deterministic:
        tf.config.experimental.enable_op_determinism()
        logger.info("Op determinism on: same seed, same bits (XLA off).")
    kw = dict(model_kwargs or {})
    if collapse_guard is not None:
        kw["collapse_metrics"] = True
    # The strategy first: a multi-worker strategy must exist before other
    # TensorFlow ops run, and a bad name or batch fails before any data is
    # read or any folder is made.
    previous_policy = keras.config.dtype_policy()
    strategy_obj, jit = setup(
        strategy,
        batch_size=batch_size or (128 if method in TEXT_METHODS else 256),
        mixed_precision=mixed_precision,
        jit_compile=jit_compile,
    )
    settings = {
        k: v
        for k, v in locals().items()
        if k not in ("previous_policy", "jit_compile", "model_kwargs")
    }
    try:
        return _train(model_kwargs=model_kwargs, **settings)
    finally:
        keras.config.set_dtype_policy(previous_policy)


def _train(
    *,
    method,
    dataset,
    output_dir,
    epochs,
    batch_size,
    learning_rate,
    time_budget,
    steps_per_epoch,
    seed,
    strategy,
    verbose,
    model_kwargs,
    resume,
    checkpoint_every,
    callbacks,
    mixed_precision,
    monitor,
    collapse_guard,
    deterministic,
    kw,
    strategy_obj,
    jit,
):
    """`pretrain` once the strategy exists (its arguments, checked)."""
    if dataset is None:
        dataset = "wordnet" if method in TEXT_METHODS else "fashion_mnist"
    resume_dir = resolve_resume(resume, output_dir, method)
    if resume_dir is not None:  # fail fast, before loading data
        check_same_config(
            resume_dir,
            {"method": method, "dataset": str(dataset)},
            only=("method", "dataset"),
        )
    split = "train" if isinstance(dataset, str) and dataset == "fashion_mnist" else None
    data = _load_data(dataset, split)
    keras.utils.set_random_seed(seed)
    if resume_dir is None:
        run_dir = make_run_directory(output_dir, method)
    else:
        run_dir = resume_dir
        clean_run_directory(run_dir)
    log_dir = os.path.join(run_dir, "logs")

    with strategy_obj.scope():
        if method in IMAGE_METHODS:
            batch_size = batch_size or 256
            learning_rate = learning_rate or 2e-3
            x = data.x
            if x.dtype == object or x.ndim != 4:
                raise ValueError(
                    f"{method} needs images of shape (N, height, width, channels). "
                    f"Received: dataset={dataset!r} with x.shape={x.shape}, "
                    f"dtype={x.dtype}"
                )
            num = len(x)
            if method == "mae":  # a ViT: the model builds its own encoder
                kw.setdefault("image_shape", tuple(x.shape[1:]))
                # 49 patches of 4x4 on 28x28 images: hiding half (not the
                # paper's 75% of 196) gave 78.4% vs 76.1% probe accuracy
                # after 800 steps (random-init ViT 77.8%).
                kw.setdefault("mask_ratio", 0.5)
                encoder = None
            else:
                encoder = conv_encoder(
                    x.shape[1:],
                    widths=tuple(kw.pop("widths", (32, 64, 128))),
                    blocks_per_stage=kw.pop("blocks_per_stage", 0),
                )
            if method == "byol":
                # The EMA target must follow the online network within a
                # short budget: over ~1,000 steps base momentum 0.9 gave
                # 80.4% probe accuracy, the paper's 0.99 78.4% (random-init
                # encoder 79.3%; README, vision benchmark).
                kw.setdefault("base_momentum", 0.9)
            if method in ("byol", "moco"):
                kw.setdefault(
                    "total_steps",
                    _total_steps(num, batch_size, epochs, steps_per_epoch),
                )
            args = () if encoder is None else (encoder,)
            model = IMAGE_METHODS[method](*args, seed=seed, **kw)
            train = tf.data.Dataset.from_tensor_slices(x)
            extra = {}
        else:
            batch_size = batch_size or 128
            learning_rate = learning_rate or 3e-3
            model, train, num, extra = _text_model(
                method, data, dataset, run_dir, kw, seed, resume_dir is not None
            )
        if num < batch_size:
            raise ValueError(
                f"Argument `batch_size` must not exceed the dataset size. "
                f"Received: batch_size={batch_size} for {num} examples"
            )
        steps = num // batch_size
        if steps_per_epoch:
            steps = min(steps, steps_per_epoch)
        total = steps * epochs
        optimizer = keras.optimizers.AdamW(
            _schedule(learning_rate, total, warmup_steps=200), weight_decay=1e-4
        )
        model.compile(optimizer=optimizer, jit_compile=jit)

    # The input is an endless stream of batches built afresh for each
    # `fit` (see `RunCheckpoint.fit`): a resumed run skips the batches
    # already trained on and then sees the same batches as an uninterrupted
    # one.
    epoch_start_callbacks, extra_variables = [], []
    if isinstance(model, DeepCluster):
        # Pseudo-labels come from k-means at each epoch start (a callback).
        # They live in a variable the checkpoint saves, so a resumed epoch
        # keeps its clusters instead of re-clustering mid-epoch.
        make_train = _DeepClusterStream(model, x, batch_size, seed)
        epoch_start_callbacks.append(make_train.reclustering)
        extra_variables.append(make_train.reclustering.labels)
    else:
        slices = train

        def make_train():
            return (
                slices.shuffle(min(num, 100_000), seed=seed)
                .batch(batch_size, drop_remainder=True)
                .repeat()
                .prefetch(tf.data.AUTOTUNE)
            )

    budget = TimeBudget(time_budget)
    # The guard reports; the error is raised after `fit` (RunCheckpoint.fit
    # runs its own callbacks after these), before anything is saved.
    guard = NonFiniteGuard(checkpoint=checkpoint_directory(run_dir), raise_error=False)
    guards = [guard]
    if collapse_guard is not None:
        # A uniform spread of unit vectors in d dimensions has std 1/sqrt(d)
        # per dimension; a tenth of that is a collapse (SimSiam paper, §4).
        dim = int(getattr(model, "projection_dim", 0) or 1)
        guards.append(
            CollapseGuard(
                min_embedding_std=0.1 / dim**0.5, patience=50, mode=collapse_guard
            )
        )
    fit_callbacks = [
        *guards,
        budget,
        LearningRateLogger(),
        # Before TensorBoard, so `knn_accuracy` reaches its epoch summaries.
        *(_monitoring(model, log_dir, data, seed) if monitor else []),
        # Per-epoch scalars: with an integer `update_freq`, Keras 3.15 also
        # applies the batch filter to the epoch summaries and drops them.
        keras.callbacks.TensorBoard(log_dir),
        *(callbacks or []),
    ]
    config = {
        "method": method,
        "dataset": str(dataset),
        "num_examples": num,
        "epochs": epochs,
        "steps_per_epoch": steps,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "time_budget": time_budget,
        "seed": seed,
        "strategy": strategy,
        "jit_compile": jit,
        "mixed_precision": mixed_precision,
        "dtype_policy": keras.config.dtype_policy().name,
        "deterministic": deterministic,
        "model_kwargs": model_kwargs or {},
        **extra,
    }
    checkpoint = RunCheckpoint(
        checkpoint_directory(run_dir),
        save_freq=checkpoint_every,
        extra_variables=extra_variables,
    )
    if resume_dir is None:
        write_json(os.path.join(run_dir, "config.json"), config)
    else:
        check_same_config(
            run_dir,
            config,
            ignore=(
                "time_budget",
                "strategy",
                "jit_compile",
                "mixed_precision",
                "dtype_policy",
                "deterministic",
            ),
        )
        with strategy_obj.scope():
            checkpoint.restore(model)
        logger.info(
            "Resuming %s from step %d (epoch %d, step %d of %d).",
            *(run_dir, checkpoint.step, checkpoint.epoch + 1, checkpoint.batch, steps),
        )
    if isinstance(make_train, _DeepClusterStream):
        make_train.checkpoint = checkpoint
    history = checkpoint.fit(
        model,
        make_train,
        epochs=epochs,
        steps_per_epoch=steps,
        callbacks=fit_callbacks,
        epoch_start_callbacks=epoch_start_callbacks,
        verbose=verbose,
        shuffle=False,  # the tf.data pipeline shuffles
    )
    if guard.error is not None:  # nothing is saved as if it were fine
        raise guard.error
    model_path = save_model(model, os.path.join(run_dir, "model.keras"))
    save_model(model.encoder, os.path.join(run_dir, "encoder.keras"))
    final = {k: v[-1] for k, v in history.history.items() if v}
    metrics = {
        **final,
        "seconds": checkpoint.seconds,
        "steps": int(model.optimizer.iterations.numpy()),
        "stopped_by_time_budget": budget.stopped_early,
        "resumed_from_step": checkpoint.resumed_from,
    }
    write_json(os.path.join(run_dir, "metrics.json"), metrics)
    checkpoint.delete()
    return {
        "run_dir": run_dir,
        "model": model,
        "model_path": model_path,
        "log_dir": log_dir,
        "history": history.history,
        **metrics,
    }
