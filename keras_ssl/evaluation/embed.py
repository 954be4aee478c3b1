import inspect

import keras
import numpy as np


def embed(encoder, x, batch_size=256, verbose=0):
    """Embeds `x` with a frozen encoder, one vector per example.

    The encoder runs in inference mode (`training=False`), so dropout is off
    and batch normalization uses its moving statistics. A `keras.Model` is run
    with `predict`; any other callable is called batch by batch.

    Args:
        encoder: a `keras.Model` or callable mapping a batch of inputs to a
            2-D tensor `(batch, dim)`.
        x: NumPy array (or a dict / list of arrays for multi-input encoders)
            with the examples along the first axis.
        batch_size: int, number of examples per forward pass.
        verbose: int, Keras progress-bar verbosity for `predict`.

    Returns:
        A float32 NumPy array of shape `(num_examples, dim)`.

    Example:

    >>> encoder = keras.Sequential([keras.layers.Dense(8)])
    >>> embed(encoder, np.zeros((10, 4), "float32")).shape
    (10, 8)

    Reference:
        - [Chen et al., 2020](https://arxiv.org/abs/2002.05709), Section B.6
          (evaluation of frozen representations).
    """
    num_examples = len(keras.tree.flatten(x)[0])
    if num_examples == 0:
        raise ValueError(
            "Argument `x` must contain at least one example. "
            "Received: x with 0 examples."
        )
    if isinstance(encoder, keras.Model):
        _check_input(encoder, x)
        outputs = encoder.predict(x, batch_size=batch_size, verbose=verbose)
        _check_output(np.asarray(outputs), num_examples)
    else:
        kwargs = {"training": False} if _accepts_training(encoder) else {}
        outputs = []
        for start in range(0, num_examples, batch_size):
            batch = keras.tree.map_structure(
                lambda a, s=start: a[s : s + batch_size], x
            )
            output = np.asarray(keras.ops.convert_to_numpy(encoder(batch, **kwargs)))
            _check_output(output, len(keras.tree.flatten(batch)[0]))
            outputs.append(output)
        outputs = np.concatenate(outputs)
    return outputs.astype("float32", copy=False)


def _check_input(encoder, x):
    """Compares an array's example shape with a one-input model's input shape."""
    inputs = getattr(encoder, "inputs", None) or []
    if len(inputs) != 1 or not hasattr(x, "shape"):
        return
    expected = tuple(inputs[0].shape[1:])
    received = tuple(x.shape[1:])
    if len(received) == len(expected) and all(
        e is None or e == r for e, r in zip(expected, received)
    ):
        return
    hint = ""
    if len(expected) == len(received) == 3 and expected[:2] == received[:2]:
        hint = (
            " The channels differ (greyscale has 1, RGB 3): load the images "
            "with the color mode the encoder was trained on."
        )
    raise ValueError(
        "Argument `x` must match the encoder's input shape. Received: x with "
        f"shape {tuple(x.shape)}. Expected: (num_examples, "
        f"{', '.join(str(d) for d in expected)}).{hint}"
    )


def _check_output(outputs, num_examples):
    if outputs.ndim != 2 or outputs.shape[0] != num_examples:
        raise ValueError(
            "The encoder must return a vector per example. "
            f"Received: output shape={outputs.shape}. Expected: (batch, dim)."
        )


def _accepts_training(fn):
    if isinstance(fn, keras.Layer):
        return True
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.name == "training" or p.kind is inspect.Parameter.VAR_KEYWORD
        for p in parameters
    )
