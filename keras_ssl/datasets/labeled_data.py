"""`LabeledData`: an in-memory dataset of images or texts with optional labels."""

import dataclasses

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(eq=False, repr=False)
class LabeledData:
    """In-memory examples with optional integer labels.

    Every loader in `keras_ssl.datasets` returns one of these. It is a thin
    container around NumPy arrays: slicing helpers (`subset`, `split`) are
    deterministic given a seed, and `to_tf_dataset` hands the data to
    `tf.data`.

    Args:
        x: The examples: a `uint8` array of images with shape
            `(N, height, width, channels)`, or a 1-D object array of Python
            `str` texts.
        y: Optional `int64` array of shape `(N,)` with class indices into
            `label_names`, or `None` for unlabelled data.
        label_names: Optional list of class names, `label_names[i]` naming
            class `i`.
        name: A short name for the data source, used in logs and errors.

    Example:

    >>> data = keras_ssl.datasets.load("fashion_mnist")
    >>> train, val = data.split(test_fraction=0.1)
    >>> ds = train.to_tf_dataset(batch_size=256, shuffle=True, seed=0)
    """

    x: np.ndarray
    y: np.ndarray | None = None
    label_names: list[str] | None = None
    name: str = "data"

    def __post_init__(self):
        if self.y is not None and len(self.y) != len(self.x):
            raise ValueError(
                "`x` and `y` must have the same length. Received: "
                f"len(x)={len(self.x)}, len(y)={len(self.y)}."
            )

    def __len__(self):
        return len(self.x)

    def __repr__(self):
        details = [f"name={self.name!r}", f"n={len(self)}"]
        details.append(f"x={self.x.dtype}{list(self.x.shape)}")
        if self.label_names is not None:
            details.append(f"{len(self.label_names)} classes")
        elif self.y is not None:
            details.append("labelled")
        return f"LabeledData({', '.join(details)})"

    def _take(self, indices, suffix):
        return LabeledData(
            x=self.x[indices],
            y=None if self.y is None else self.y[indices],
            label_names=self.label_names,
            name=f"{self.name}{suffix}",
        )

    def subset(self, n, seed=0):
        """Returns a random subset of `n` examples (kept in their original order).

        Args:
            n: Number of examples, between 1 and `len(self)`.
            seed: Seed of the random choice; the same seed gives the same subset.

        Returns:
            A new `LabeledData` with `n` examples.

        Example:

        >>> data = LabeledData(np.zeros((10, 28, 28, 1), "uint8"), np.arange(10))
        >>> small = data.subset(4, seed=0)
        >>> len(small)
        4
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer):
            raise ValueError(
                f"`n` must be an integer. Received: n={n!r} of type {type(n)}."
            )
        if not 1 <= n <= len(self):
            raise ValueError(
                f"`n` must be between 1 and the number of examples ({len(self)}). "
                f"Received: n={n}."
            )
        rng = np.random.default_rng(seed)
        indices = np.sort(rng.choice(len(self), size=n, replace=False))
        return self._take(indices, f"[subset {n}]")

    def split(self, test_fraction=0.2, seed=0, stratify=True):
        """Splits the examples into a train and a test part.

        The split is deterministic given `seed`. With `stratify=True` and
        labels present, every class keeps (up to rounding) the same fraction
        in both parts.

        Args:
            test_fraction: Fraction of examples in the test part, strictly
                between 0 and 1. The test part gets
                `round(test_fraction * len(self))` examples (at least 1).
            seed: Seed of the random assignment.
            stratify: Whether to keep class proportions. Ignored for
                unlabelled data.

        Returns:
            A tuple `(train, test)` of `LabeledData`.

        Example:

        >>> data = LabeledData(np.zeros((10, 28, 28, 1), "uint8"), np.arange(10))
        >>> train, test = data.split(test_fraction=0.2, seed=0)
        >>> len(train), len(test)
        (8, 2)
        """
        if not 0 < test_fraction < 1:
            raise ValueError(
                "`test_fraction` must be strictly between 0 and 1. "
                f"Received: test_fraction={test_fraction!r}."
            )
        n = len(self)
        if n < 2:
            raise ValueError(
                f"Cannot split {self.name!r}: it needs at least 2 examples. "
                f"Received: {n} example(s)."
            )
        n_test = min(max(round(n * test_fraction), 1), n - 1)
        rng = np.random.default_rng(seed)
        if stratify and self.y is not None:
            test = _stratified_test_indices(self.y, n_test, rng)
        else:
            test = rng.permutation(n)[:n_test]
        is_test = np.zeros(n, dtype=bool)
        is_test[test] = True
        return (
            self._take(np.flatnonzero(~is_test), "[train]"),
            self._take(np.flatnonzero(is_test), "[test]"),
        )

    def to_tf_dataset(self, batch_size, shuffle=False, seed=None, drop_remainder=False):
        """Returns a batched, prefetched `tf.data.Dataset`.

        Args:
            batch_size: Positive number of examples per batch.
            shuffle: Whether to reshuffle all examples each epoch.
            seed: Optional seed of the shuffle.
            drop_remainder: Whether to drop the last, smaller batch; then
                `batch_size` must not exceed the number of examples.

        Returns:
            A `tf.data.Dataset` yielding `x` batches, or `(x, y)` batches when
            the data is labelled. Images are `uint8`, texts `tf.string`,
            labels `int64`.

        Example:

        >>> data = LabeledData(np.zeros((10, 28, 28, 1), "uint8"), np.arange(10))
        >>> ds = data.to_tf_dataset(batch_size=4, shuffle=True, seed=0)
        >>> images, labels = next(iter(ds))
        >>> images.shape
        TensorShape([4, 28, 28, 1])
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
            raise ValueError(
                "`batch_size` must be a positive integer. "
                f"Received: batch_size={batch_size!r}."
            )
        if batch_size < 1:
            raise ValueError(
                "`batch_size` must be a positive integer. "
                f"Received: batch_size={batch_size}."
            )
        if drop_remainder and batch_size > len(self):
            raise ValueError(
                "`batch_size` must not exceed the number of examples when "
                "`drop_remainder=True` (the dataset would yield no batch). "
                f"Received: batch_size={batch_size} for {len(self)} examples "
                f"in {self.name!r}. Expected batch_size <= {len(self)}, or "
                "drop_remainder=False."
            )
        tensors = self.x if self.y is None else (self.x, self.y)
        ds = tf.data.Dataset.from_tensor_slices(tensors)
        if shuffle:
            ds = ds.shuffle(len(self), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        return ds.prefetch(tf.data.AUTOTUNE)


def _stratified_test_indices(y, n_test, rng):
    """Picks `n_test` indices, apportioning them to classes by size."""
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    quota = counts * n_test / len(y)
    per_class = np.floor(quota).astype(np.int64)
    # Largest remainders get the rounding leftovers (ties: smaller class index).
    leftover = n_test - per_class.sum()
    per_class[np.argsort(-(quota - per_class), kind="stable")[:leftover]] += 1
    picked = []
    for c in range(len(classes)):
        members = np.flatnonzero(inverse == c)
        picked.append(rng.permutation(members)[: per_class[c]])
    return np.concatenate(picked)
