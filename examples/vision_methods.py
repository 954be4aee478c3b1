"""Every image method with plain `model.fit`, then a linear probe.

Uses the classes directly (no workflow helpers), so this is the recipe for
your own images: build an encoder, wrap it in a method, compile, fit on
uint8 images, and probe the frozen encoder against its random-init twin.

    python examples/vision_methods.py --method simclr --steps 300
    python examples/vision_methods.py --method all --steps 2 --train-size 512
"""

import argparse

import keras
import numpy as np

from keras_ssl.datasets import load
from keras_ssl.encoders import conv_encoder
from keras_ssl.evaluation import linear_probe
from keras_ssl.models import (
    BYOL,
    Autoencoder,
    BarlowTwins,
    DeepCluster,
    MaskedAutoencoder,
    MoCo,
    RotationPrediction,
    SimCLR,
    SimSiam,
    TripletModel,
    VICReg,
)


def build(method, image_shape, total_steps, seed):
    """The model for `method` with the settings that won our benchmark."""
    if method == "mae":  # builds its own small ViT
        return MaskedAutoencoder(image_shape=image_shape, seed=seed)
    encoder = conv_encoder(image_shape, widths=(32, 64, 128))
    if method == "simclr":
        return SimCLR(encoder, temperature=0.2, seed=seed)
    if method == "moco":
        return MoCo(encoder, queue_size=4096, total_steps=total_steps, seed=seed)
    if method == "triplet":
        return TripletModel(encoder, mining="semi_hard", margin=0.2, seed=seed)
    if method == "byol":
        return BYOL(encoder, base_momentum=0.9, total_steps=total_steps, seed=seed)
    if method == "simsiam":
        return SimSiam(encoder, seed=seed)
    if method == "barlow_twins":
        return BarlowTwins(encoder, seed=seed)
    if method == "vicreg":
        return VICReg(encoder, seed=seed)
    if method == "autoencoder":
        return Autoencoder(encoder, seed=seed)
    if method == "rotation":
        return RotationPrediction(encoder, seed=seed)
    if method == "deepcluster":
        return DeepCluster(encoder, num_clusters=100, seed=seed)
    raise ValueError(f"Unknown method: {method!r}")


METHODS = (
    "simclr",
    "moco",
    "triplet",
    "byol",
    "simsiam",
    "barlow_twins",
    "vicreg",
    "autoencoder",
    "rotation",
    "mae",
    "deepcluster",
)


def run(method, train, test, steps, batch_size, seed):
    keras.utils.set_random_seed(seed)
    model = build(method, train.x.shape[1:], steps, seed)
    model.compile(optimizer=keras.optimizers.AdamW(2e-3, weight_decay=1e-4))
    if isinstance(model, DeepCluster):
        data, reclustering = model.make_training_data(train.x, batch_size, seed)
        callbacks = [reclustering]
    else:
        data = train.x
        callbacks = []
    epochs = max(1, -(-steps * batch_size // len(train)))
    model.fit(
        data.repeat() if isinstance(model, DeepCluster) else data,
        batch_size=None if isinstance(model, DeepCluster) else batch_size,
        epochs=epochs,
        steps_per_epoch=-(-steps // epochs),
        callbacks=callbacks,
        verbose=0,
    )

    def probe(encoder):
        scale = np.float32(1 / 255)
        return linear_probe(encoder, train.x * scale, train.y, test.x * scale, test.y)[
            "accuracy"
        ]

    twin = keras.models.clone_model(model.encoder)  # fresh random weights
    return {
        "method": method,
        "steps": int(model.optimizer.iterations.numpy()),
        "probe_ssl": probe(model.encoder),
        "probe_random_init": probe(twin),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--method",
        default="simclr",
        help=f"one of {', '.join(METHODS)}, a comma-separated list, or all",
    )
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--train-size", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    methods = METHODS if args.method == "all" else tuple(args.method.split(","))
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        expected = ", ".join(METHODS)
        parser.error(f"--method: unknown {unknown}; expected {expected} or all")

    train = load("fashion_mnist", split="train")
    train = train.subset(args.train_size, seed=args.seed)
    test = load("fashion_mnist", split="test")
    test = test.subset(min(args.train_size, len(test)), seed=args.seed)
    results = []
    for method in methods:
        result = run(method, train, test, args.steps, args.batch_size, args.seed)
        print(
            f"{method:>13}: {result['steps']} steps, linear probe "
            f"{result['probe_ssl']:.1%} (random init {result['probe_random_init']:.1%})"
        )
        results.append(result)
    return results


if __name__ == "__main__":
    main()
