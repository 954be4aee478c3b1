"""Fine-tune an encoder with a classification head."""

import keras
import numpy as np
import tensorflow as tf

from keras_ssl.evaluation._validation import check_labels, check_same_length


def build_classifier(
    encoder, num_classes, dropout=0.1, output_key="pooled_output", head_norm=True
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

    Returns:
        A `keras.Model` from the encoder's inputs to class logits.
    """
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
    logits = keras.layers.Dense(int(num_classes), name="classifier_head")(x)
    return keras.Model(inputs, logits, name="classifier")


_NORMS = (keras.layers.LayerNormalization, keras.layers.BatchNormalization)


def freeze_below_top(encoder, k):
    """Freezes all but the top `k` weighted, non-normalisation layers.

    Normalisation layers above the lowest trainable layer stay trainable.
    Returns the names of the trainable layers.
    """
    weighted = [layer for layer in encoder.layers if layer.weights]
    blocks = [layer for layer in weighted if not isinstance(layer, _NORMS)]
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= len(blocks):
        raise ValueError(
            f"Argument `trainable_layers` must be None or an int in [0, "
            f"{len(blocks)}] (the encoder's layers with weights, norms not "
            f"counted: {[layer.name for layer in blocks]}). "
            f"Received: trainable_layers={k!r}"
        )
    lowest = weighted.index(blocks[-k]) if k else len(weighted)
    for i, layer in enumerate(weighted):
        layer.trainable = i >= lowest
    return [layer.name for layer in weighted[lowest:]]


def fine_tune(
    encoder,
    x_train,
    y_train,
    x_test,
    y_test,
    epochs=2,
    batch_size=64,
    learning_rate=5e-4,
    weight_decay=0.01,
    warmup_fraction=0.1,
    dropout=0.1,
    freeze_encoder=False,
    trainable_layers=None,
    head_norm=True,
    probe_epochs=0,
    callbacks=None,
    verbose="auto",
    seed=0,
):
    """Fine-tunes a *copy* of `encoder` with a linear head; reports accuracy.

    AdamW with decoupled weight decay, linear warm-up then cosine decay of the
    learning rate. The encoder passed in is left untouched (its weights are
    copied into a fresh clone), so the same pretrained encoder can be
    fine-tuned several times and compared with a random-init twin.

    Args:
        encoder: `keras.Model` (see `build_classifier`).
        x_train, y_train: training inputs (e.g. token ids) and int labels.
        x_test, y_test: held-out inputs and labels.
        epochs: passes over `x_train`.
        batch_size: batch size.
        learning_rate: peak learning rate.
        weight_decay: AdamW weight decay.
        warmup_fraction: fraction of steps used for linear warm-up.
        dropout: dropout before the head.
        freeze_encoder: train the head only (a linear probe trained by SGD).
        trainable_layers: `None` fine-tunes the whole encoder; an int `k`
            fine-tunes only its top `k` layers (counted over the layers with
            weights, normalisation layers not counted: for a Transformer the
            top `k` blocks and the norms above them; `k=0` is the head only,
            like `freeze_encoder=True`).
        head_norm: batch-normalize the features before the head.
        probe_epochs: first train only the head for this many epochs on the
            frozen encoder, then fine-tune everything ("LP-FT", Kumar et al.
            2022, https://arxiv.org/abs/2202.10054): a random head's
            gradients no longer distort the pretrained features.
        callbacks: extra Keras callbacks for `fit`.
        verbose: Keras verbosity.
        seed: seed of the data order and head initialisation.

    Returns:
        `{"accuracy", "num_train", "num_test", "history"}`, and the trained
        classifier under `"model"`.

    Example:

    >>> result = fine_tune(encoder, ids_train, y_train, ids_test, y_test)
    >>> result["accuracy"]  # doctest: +SKIP
    """
    y_train = check_labels(y_train, "y_train")
    y_test = check_labels(y_test, "y_test")
    check_same_length(x_train, "x_train", y_train, "y_train")
    check_same_length(x_test, "x_test", y_test, "y_test")
    num_classes = int(max(y_train.max(), y_test.max()) + 1)
    keras.utils.set_random_seed(seed)
    copy = keras.models.clone_model(encoder)
    copy.set_weights(encoder.get_weights())
    model = build_classifier(copy, num_classes, dropout, head_norm=head_norm)
    train = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(len(x_train), seed=seed)
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if probe_epochs and not freeze_encoder:
        copy.trainable = False
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate * 10),
            loss=loss,
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )
        model.fit(train, epochs=probe_epochs, verbose=verbose, shuffle=False)
    copy.trainable = not freeze_encoder
    if trainable_layers is not None and not freeze_encoder:
        freeze_below_top(copy, trainable_layers)
    steps = max(1, epochs * (len(x_train) // batch_size))
    warmup = int(steps * warmup_fraction)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0 if warmup else learning_rate,
        decay_steps=max(1, steps - warmup),
        warmup_target=learning_rate if warmup else None,
        warmup_steps=warmup,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=weight_decay),
        loss=loss,
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    history = model.fit(
        train, epochs=epochs, callbacks=callbacks, verbose=verbose, shuffle=False
    )
    test = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(256)
    result = model.evaluate(test, verbose=0, return_dict=True)
    return {
        "accuracy": float(result["accuracy"]),
        "num_train": len(x_train),
        "num_test": len(x_test),
        "history": history.history,
        "model": model,
    }
