"""Exact resume: `model.fit` that continues where a `RunCheckpoint` stopped.

`keras_ssl.callbacks.RunCheckpoint` is a callback: it writes atomic
checkpoints and restores them. Driving `model.fit` so that an interrupted run
continues bit for bit (skipping the batches already trained on, finishing
the interrupted epoch, then running the remaining ones) is the
application's job, done here by `fit_resumable`.
"""

import warnings

import keras
import tensorflow as tf

from keras_ssl.callbacks.run_checkpoint import RunCheckpoint
from keras_ssl.checks import check_positive_int


class _StopAfterEpoch(keras.callbacks.Callback):
    """Ends `fit` after its first epoch; notes whether another callback
    (a time budget) had already asked to stop."""

    def __init__(self):
        super().__init__()
        self.stopped_by_other = False

    def on_epoch_end(self, epoch, logs=None):
        self.stopped_by_other = bool(self.model.stop_training)
        self.model.stop_training = True


def _checked_stream(checkpoint, dataset, fit_kwargs):
    """Checks `fit_resumable`'s arguments; returns `(stream, rebuilt)`:
    a function giving the batches after the checkpoint's step, and whether
    each call builds the dataset afresh."""
    if not isinstance(checkpoint, RunCheckpoint):
        raise ValueError(
            "Argument `checkpoint` must be a keras_ssl.callbacks.RunCheckpoint. "
            f"Received: checkpoint of type {type(checkpoint).__name__}"
        )
    if not isinstance(dataset, tf.data.Dataset) and not callable(dataset):
        raise ValueError(
            "Argument `dataset` must be a function returning a "
            "tf.data.Dataset (an endless stream of batches) or a "
            f"tf.data.Dataset. Received: dataset of type "
            f"{type(dataset).__name__}"
        )
    for key in ("initial_epoch", "callbacks", "steps_per_epoch"):
        if key in fit_kwargs:
            raise ValueError(
                f"Argument `{key}` is set by fit_resumable (RunCheckpoint.fit). "
                f"Received: {key}={fit_kwargs[key]!r}"
            )
    rebuilt = not isinstance(dataset, tf.data.Dataset)

    skips = rebuilt and getattr(dataset, "skips_batches", False)

    def stream():
        if skips:  # e.g. a streamed source skipping records before decoding
            data = dataset(checkpoint.step)
        else:
            data = dataset() if rebuilt else dataset
        if not isinstance(data, tf.data.Dataset):
            raise ValueError(
                "Argument `dataset` must return a tf.data.Dataset. "
                f"Received: {type(data).__name__}"
            )
        return data if skips else data.skip(checkpoint.step)

    return stream, rebuilt


def fit_resumable(
    model,
    checkpoint,
    dataset,
    epochs,
    steps_per_epoch,
    callbacks=None,
    epoch_start_callbacks=None,
    **fit_kwargs,
):
    """`model.fit` that continues exactly where the checkpoint stopped.

    The input is an endless `tf.data` stream of batches, such as
    `.shuffle(n, seed=s).batch(b).repeat()`, given as a function that builds
    it (a seeded, reshuffling `tf.data` pipeline gives a different order
    each time the *same* dataset object is iterated again, but the same
    order from a freshly built one), and each epoch runs `steps_per_epoch`
    batches from that stream. `fit_resumable` restores the checkpoint (unless
    it was restored already), skips the batches already trained on
    (`dataset().skip(checkpoint.step)`), finishes an interrupted epoch
    (without `epoch_start_callbacks`, whose epoch-start work is already in
    the restored state) and runs the remaining epochs. It is `model.fit`
    called once (twice after a mid-epoch interruption: the rest of that
    epoch, then the remaining epochs). On the same device with deterministic
    kernels (`tf.config.experimental.enable_op_determinism()`) the final
    weights equal those of an uninterrupted run bit for bit.

    Args:
        model: the model, built and compiled as in the interrupted run.
        checkpoint: a `keras_ssl.callbacks.RunCheckpoint`.
        dataset: a function returning a freshly built `tf.data.Dataset`
            that yields an endless stream of batches (e.g.
            `.shuffle(n, seed=s).batch(b).repeat()`), called once per
            `model.fit`. A function with a true `skips_batches` attribute
            (`keras_ssl.recipes.TrainingStream`) is called with the number
            of batches to skip and skips them itself (a streamed source
            skips raw records before decoding them). A
            `tf.data.Dataset` is accepted too, but after
            a mid-epoch interruption its second iteration may see
            another order (a warning says so).
        epochs: total epochs of the run.
        steps_per_epoch: steps per epoch.
        callbacks: other callbacks for `model.fit`.
        epoch_start_callbacks: callbacks whose `on_epoch_begin` work is
            part of the checkpointed state (DeepCluster's
            `Reclustering`, with its labels in `extra_variables`): not
            run for the rest of an interrupted epoch.
        **fit_kwargs: passed to `model.fit` (`verbose`, ...).

    Returns:
        A `keras.callbacks.History` with every epoch of the run (those
        before the checkpoint included), plus a final incomplete epoch
        when a callback stopped training early.

    Example (plain Python; run the same script again after a crash):

    ```python
    keras.utils.set_random_seed(0)
    model = SimCLR(conv_encoder((28, 28, 1)), seed=0)
    model.compile(optimizer=keras.optimizers.AdamW(schedule))

    def make_dataset():  # built anew for each `model.fit`
        return (tf.data.Dataset.from_tensor_slices(images)
                .shuffle(len(images), seed=0).batch(256, drop_remainder=True)
                .repeat())

    checkpoint = RunCheckpoint("runs/my-run/checkpoint", save_freq=100)
    history = fit_resumable(model, checkpoint, make_dataset, epochs=10,
                            steps_per_epoch=200,
                            callbacks=[keras.callbacks.TensorBoard("logs")])
    model.save("model.keras")
    checkpoint.delete()  # optional, once the results are saved
    ```
    """
    stream, rebuilt = _checked_stream(checkpoint, dataset, fit_kwargs)
    epochs = check_positive_int("epochs", epochs)
    steps_per_epoch = check_positive_int("steps_per_epoch", steps_per_epoch)
    if not checkpoint.restored:
        checkpoint.restore(model)
    if checkpoint.batch >= steps_per_epoch:
        raise ValueError(
            f"The checkpoint in {checkpoint.directory!r} is at step "
            f"{checkpoint.batch} of an epoch. Received: steps_per_epoch="
            f"{steps_per_epoch}, which does not match the interrupted run"
        )
    fit_kwargs.setdefault("shuffle", False)  # the dataset shuffles
    callbacks = list(callbacks or [])
    epoch_start_callbacks = list(epoch_start_callbacks or [])
    checkpoint.partial_logs = None
    if checkpoint.epoch < epochs and checkpoint.batch:
        stopper = _StopAfterEpoch()
        if not rebuilt:
            warnings.warn(
                "fit_resumable resumes in the middle of an epoch with two "
                "`model.fit` calls; a dataset object iterated twice may "
                "reshuffle differently than an uninterrupted run. Pass a "
                "function that builds the dataset.",
                stacklevel=2,
            )
        model.fit(
            stream(),
            epochs=epochs,
            initial_epoch=checkpoint.epoch,
            steps_per_epoch=steps_per_epoch - checkpoint.batch,
            callbacks=[*callbacks, checkpoint, stopper],
            **fit_kwargs,
        )
        if stopper.stopped_by_other or checkpoint.partial_logs is not None:
            return checkpoint.training_history()
    if checkpoint.epoch < epochs:
        model.fit(
            stream(),
            epochs=epochs,
            initial_epoch=checkpoint.epoch,
            steps_per_epoch=steps_per_epoch,
            callbacks=[*epoch_start_callbacks, *callbacks, checkpoint],
            **fit_kwargs,
        )
    return checkpoint.training_history()
