"""Train one model on several devices (or hosts) with a flag.

`keras_ssl.distribute.setup` builds the strategy, checks that the global
batch divides by the number of replicas, sets mixed precision and decides
XLA; the model, its optimizer and metrics are built under
`strategy.scope()`, and `model.fit` does the rest: every replica gets its
share of the global batch, losses are normalised by the global batch, and
SimCLR gathers negatives from every replica.

    # all GPUs of this machine
    python examples/distributed_training.py --strategy mirrored
    # no GPU: split the CPU into 2 logical devices to try MirroredStrategy
    python examples/distributed_training.py --strategy mirrored --logical-cpus 2
    # mixed precision (float16 on GPU, bfloat16 on CPUs with native support)
    python examples/distributed_training.py --mixed-precision auto
    # several hosts: the same command on every worker, each with its TF_CONFIG
    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]},
                "task": {"type": "worker", "index": 0}}' \\
        python examples/distributed_training.py --strategy multi_worker

The command line takes the same flags: `keras-ssl pretrain --strategy
mirrored --mixed-precision auto`.
"""

import argparse
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--strategy", default="auto")
    p.add_argument("--mixed-precision", default="off")
    p.add_argument(
        "--logical-cpus",
        type=int,
        default=0,
        help="split the CPU into this many logical devices (testing without GPUs)",
    )
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--steps", type=int, default=50, help="steps per epoch")
    p.add_argument("--batch-size", type=int, default=256, help="the global batch")
    p.add_argument("--train-size", type=int, default=20000)
    p.add_argument("--widths", type=int, nargs="+", default=[32, 64, 128])
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import tensorflow as tf

    if args.logical_cpus > 1:  # before TensorFlow initialises its devices
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * args.logical_cpus
        )
    import keras

    from keras_ssl.datasets import load
    from keras_ssl.distribute import setup
    from keras_ssl.encoders import conv_encoder
    from keras_ssl.models import SimCLR

    strategy = args.strategy
    if strategy == "mirrored" and args.logical_cpus > 1:
        # Without GPUs, "mirrored" mirrors over the logical CPUs made above.
        devices = [f"/cpu:{i}" for i in range(args.logical_cpus)]
        strategy = tf.distribute.MirroredStrategy(devices)
    strategy, jit_compile = setup(
        strategy,
        batch_size=args.batch_size,
        mixed_precision=args.mixed_precision,
    )
    images = load("fashion_mnist", split="train").subset(args.train_size, seed=0).x
    keras.utils.set_random_seed(args.seed)
    with strategy.scope():
        model = SimCLR(
            conv_encoder(images.shape[1:], widths=tuple(args.widths)),
            seed=args.seed,
        )
        model.compile(optimizer=keras.optimizers.AdamW(1e-3), jit_compile=jit_compile)
    data = (
        tf.data.Dataset.from_tensor_slices(images)
        .shuffle(len(images), seed=args.seed)
        .batch(args.batch_size, drop_remainder=True)
        .repeat()
        .prefetch(tf.data.AUTOTUNE)
    )
    start = time.monotonic()
    history = model.fit(data, epochs=args.epochs, steps_per_epoch=args.steps, verbose=2)
    seconds = time.monotonic() - start
    steps = args.epochs * args.steps
    result = {
        "strategy": type(strategy).__name__,
        "replicas": strategy.num_replicas_in_sync,
        "dtype_policy": keras.config.dtype_policy().name,
        "jit_compile": jit_compile,
        "steps": steps,
        "images_per_second": steps * args.batch_size / seconds,
        "loss": float(history.history["loss"][-1]),
    }
    print(result)
    return result


if __name__ == "__main__":
    main()
