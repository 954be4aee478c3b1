"""Resume a pretraining run after a crash, with nothing lost.

The plain-Python recipe: the callback `keras_ssl.callbacks.RunCheckpoint`
checkpoints the whole training state (weights, optimizer and learning-rate
position, random generator states, metric sums, the position in the data
stream) every `--checkpoint-every` steps, atomically, and
`keras_ssl.app.resume.fit_resumable` drives `model.fit` with it: running the
same script again continues from the last checkpoint exactly where the
interrupted run was.

    python examples/resume_training.py --crash-after 30   # dies at step 30
    python examples/resume_training.py                    # resumes, finishes

`--crash-after N` ends the process abruptly (`os._exit`, like a kill: no
clean-up runs) after N training steps. The command line does the same with
`keras-ssl pretrain ... --resume` (see the README's "Reliability" section).
"""

import argparse
import os

import keras
import tensorflow as tf

from keras_ssl.app.resume import fit_resumable
from keras_ssl.callbacks import RunCheckpoint
from keras_ssl.datasets import load
from keras_ssl.encoders import conv_encoder
from keras_ssl.models import SimCLR


class CrashAfter(keras.callbacks.Callback):
    """Ends the process without any clean-up after `steps` training steps."""

    def __init__(self, steps):
        super().__init__()
        self.steps = steps

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) >= self.steps:
            print(f"crashing after step {self.steps}", flush=True)
            os._exit(3)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", default="runs/resume-example")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--steps", type=int, default=40, help="steps per epoch")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--train-size", type=int, default=5000)
    p.add_argument("--checkpoint-every", type=int, default=10)
    p.add_argument("--crash-after", type=int, default=None)
    p.add_argument("--widths", type=int, nargs="+", default=[16, 32])
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    images = load("fashion_mnist", split="train").subset(args.train_size, seed=0).x
    keras.utils.set_random_seed(args.seed)
    model = SimCLR(
        conv_encoder(images.shape[1:], widths=tuple(args.widths)), seed=args.seed
    )
    schedule = keras.optimizers.schedules.CosineDecay(
        1e-3, decay_steps=args.epochs * args.steps
    )
    model.compile(optimizer=keras.optimizers.AdamW(schedule))

    def make_dataset():  # built afresh for each `fit`: the same order each time
        return (
            tf.data.Dataset.from_tensor_slices(images)
            .shuffle(len(images), seed=args.seed)
            .batch(args.batch_size, drop_remainder=True)
            .repeat()
        )

    checkpoint = RunCheckpoint(
        os.path.join(args.run_dir, "checkpoint"), save_freq=args.checkpoint_every
    )
    if checkpoint.exists():
        state = checkpoint.read_state()
        print(f"resuming from step {state['step']}", flush=True)
    callbacks = [CrashAfter(args.crash_after)] if args.crash_after else []
    history = fit_resumable(
        model,
        checkpoint,
        make_dataset,
        epochs=args.epochs,
        steps_per_epoch=args.steps,
        callbacks=callbacks,
        verbose=2,
    )
    steps = int(model.optimizer.iterations.numpy())
    path = os.path.join(args.run_dir, "model.keras")
    model.save(path)
    checkpoint.delete()
    print(f"finished: {steps} steps, loss {history.history['loss'][-1]:.4f}")
    print(f"resumed from step: {checkpoint.resumed_from}")
    print(f"model: {path}")
    return {
        "steps": steps,
        "resumed_from": checkpoint.resumed_from,
        "loss": history.history["loss"],
    }


if __name__ == "__main__":
    main()
