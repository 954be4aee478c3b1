"""`StreamedData`: examples read from disk by a `tf.data` pipeline."""

import dataclasses
import logging
import re

import numpy as np
import tensorflow as tf

logger = logging.getLogger("keras_ssl")

AUTOTUNE = tf.data.AUTOTUNE
FILE = tf.data.experimental.AutoShardPolicy.FILE


@dataclasses.dataclass(eq=False, repr=False)
class StreamedData:
    """Images or texts streamed from files, never held in memory at once.

    The streaming loaders (`stream_image_folder`, `stream_shards`,
    `stream_text_file`, `stream_csv`, `stream_tfds`, `from_dataset`) return
    one of these: the metadata a workflow needs before training (how many
    examples, the class names, the image shape) and `batches`, which builds
    the `tf.data` pipeline: seeded shuffles of the files and of a record
    buffer, parallel interleave over files, parsing (decoding, resizing,
    transcoding) in a parallel `map`, batching, prefetching.

    A pipeline built twice with the same arguments yields the same examples
    in the same order, so a resumed run skips what was trained on by
    count (`batches(..., start_batch=n)` skips `n * batch_size` raw records
    before anything is decoded; per worker, its share of them, when sharded
    by file) and then sees what an uninterrupted run sees.

    Args:
        items: what the pipeline starts from: a list of file names (shards
            or text files, read by `read`), or a tuple of per-example arrays
            (an image folder's paths and labels), or a `tf.data.Dataset` of
            records.
        parse: function of one record returning `x` or `(x, y)`.
        read: for file names: function of one file name returning a
            `tf.data.Dataset` of its records; `None` otherwise.
        modality: `"image"` or `"text"`.
        num_examples: the number of examples, or `None` when unknown.
        label_names: class names, or `None` for unlabelled data.
        image_shape: `(height, width, channels)` of the images.
        name: a short name for logs and errors.
        labelled: whether `parse` returns `(x, y)`.
        skip_invalid: skip (and count) records that fail to parse instead
            of stopping.
        locate: optional function `(error) -> str` describing which file
            and record failed, used when parsing stops with an error.
        shuffle_buffer: records held by the record shuffle (at most
            `num_examples`).
        parse_batch: optional vectorized `parse` of a whole batch of records
            (one `tf.data` call per batch instead of one per record, several
            times cheaper for small examples); used by `batches` unless
            `skip_invalid` or `cache` needs examples one by one.

    Example:

    >>> import os, tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "corpus.txt")
    >>> with open(path, "w", encoding="utf-8") as f:
    ...     _ = f.write("one\\ntwo\\nthree\\n")
    >>> docs = keras_ssl.datasets.stream_text_file(path)
    >>> docs.num_examples
    3
    >>> batch = next(iter(docs.batches(2, shuffle=True, seed=0)))
    >>> batch.shape
    TensorShape([2])
    """

    items: object
    parse: object
    read: object = None
    modality: str = "image"
    num_examples: int | None = None
    label_names: list | None = None
    image_shape: tuple | None = None
    name: str = "stream"
    labelled: bool = False
    skip_invalid: bool = False
    locate: object = None
    shuffle_buffer: int = 10_000
    parse_batch: object = None
    _skipped: object = dataclasses.field(default=None, init=False)

    def __post_init__(self):
        # Counts records skipped by `skip_invalid`; outside any strategy
        # scope, so it stays a plain variable on the host.
        with tf.init_scope():
            self._skipped = tf.Variable(0, dtype=tf.int64, trainable=False)

    def __len__(self):
        if self.num_examples is None:
            raise TypeError(
                f"The length of {self.name!r} is unknown (a stream without a "
                "count); pass `steps_per_epoch`."
            )
        return self.num_examples

    def __repr__(self):
        details = [f"name={self.name!r}", self.modality]
        count = "unknown" if self.num_examples is None else self.num_examples
        details.append(f"n={count}")
        if self.image_shape is not None:
            details.append(f"image_shape={tuple(self.image_shape)}")
        if self.label_names is not None:
            details.append(f"{len(self.label_names)} classes")
        if self.num_files is not None:
            details.append(f"{self.num_files} files")
        return f"StreamedData({', '.join(details)})"

    @property
    def y(self):
        """Whether labels come with the examples (a stand-in for
        `LabeledData.y is not None` checks)."""
        return True if self.labelled else None

    @property
    def num_files(self):
        """How many files the examples are read from (`None` when the
        source is not split into files)."""
        if self.read is not None:
            return len(self.items)
        return None

    @property
    def skipped(self):
        """Records skipped so far as invalid (`skip_invalid=True`), counted
        where the pipeline reads them (which may run ahead of training)."""
        return int(self._skipped.numpy())

    def count_skipped(self, n):
        """Adds `n` to `skipped` (an op, for a reader that loses records
        before they reach `parse`, such as a damaged shard's rest)."""
        return self._skipped.assign_add(tf.cast(n, tf.int64))

    def shard_policy(self, num_workers):
        """The `tf.data` auto-shard policy for `num_workers` workers.

        By file (`FILE`) when there are at least as many files as workers:
        each worker reads only its own files (`tf.distribute` shards the
        file names ahead of the interleave, so the shuffles and the record
        buffer stay per worker). By example (`DATA`) otherwise (one file,
        an image folder, a `tf.data` source): every worker reads and parses
        every example and keeps its share of each global batch.

        Args:
            num_workers: workers of a multi-worker strategy.

        Returns:
            A `tf.data.experimental.AutoShardPolicy`.

        Example:

        >>> data = StreamedData(["a.tfrecord", "b.tfrecord"], parse=None, read=len)
        >>> data.shard_policy(2).name, data.shard_policy(3).name
        ('FILE', 'DATA')
        """
        files = self.num_files or 0
        if files >= num_workers:
            return tf.data.experimental.AutoShardPolicy.FILE
        return tf.data.experimental.AutoShardPolicy.DATA

    def _records(self, shuffle, seed, repeat):
        # No larger than the data: a buffer fills before its first record.
        buffer = min(self.shuffle_buffer, self.num_examples or self.shuffle_buffer)
        if self.read is not None:
            files = tf.data.Dataset.from_tensor_slices(list(self.items))
            if shuffle:
                files = files.shuffle(len(self.items), seed=seed)
            if repeat:
                files = files.repeat()
            if len(self.items) == 1 or not shuffle:
                # In file order (evaluation, `write_shards`, error search).
                records = files.flat_map(self.read)
            else:
                records = files.interleave(
                    self.read,
                    cycle_length=min(len(self.items), 8),
                    block_length=1,
                    num_parallel_calls=AUTOTUNE,
                    deterministic=True,
                )
            if shuffle:
                records = records.shuffle(buffer, seed=seed)
            return records
        if isinstance(self.items, tf.data.Dataset):
            records = self.items
            if shuffle:
                records = records.shuffle(buffer, seed=seed)
        else:
            records = tf.data.Dataset.from_tensor_slices(self.items)
            if shuffle:
                # Only file names and labels: the whole list fits a buffer.
                records = records.shuffle(len(self.items[0]), seed=seed)
        return records.repeat() if repeat else records

    def examples(
        self,
        shuffle=False,
        seed=None,
        repeat=False,
        start=0,
        labels=True,
        deterministic=True,
    ):
        """The parsed examples, one by one (not batched).

        Args:
            shuffle: shuffle the files (each pass anew) and a buffer of
                `shuffle_buffer` records.
            seed: seed of both shuffles (the same seed, the same order).
            repeat: repeat forever.
            start: raw records to skip first (before any parsing).
            labels: keep the labels (when the data has them); `False`
                yields `x` only.
            deterministic: keep the order of the parallel `map`.

        Returns:
            A `tf.data.Dataset` of `x` or `(x, y)`.
        """
        records = self._records(shuffle, seed, repeat)
        if start:
            records = records.skip(start)
        if not self.skip_invalid:
            examples = records.map(
                self.parse, num_parallel_calls=AUTOTUNE, deterministic=deterministic
            )
        else:
            examples = self._skipping_invalid(records, deterministic)
        if self.labelled and not labels:
            examples = examples.map(lambda x, y: x)
        return examples

    def _skipping_invalid(self, records, deterministic):
        # Number the records, drop those whose parsing fails, and count
        # the gaps between the numbers that come through; records failing
        # at the end of a finite stream are counted once it ends.
        parse = self.parse
        read = tf.Variable(0, dtype=tf.int64, trainable=False)

        def note(i, record):
            with tf.control_dependencies([read.assign(i + 1)]):
                return i, tf.nest.map_structure(tf.identity, record)

        numbered = records.enumerate().map(note)  # in order, before parsing
        numbered = numbered.map(
            lambda i, record: (i, _call(parse, record)),
            num_parallel_calls=AUTOTUNE,
            deterministic=True,
        )
        numbered = numbered.ignore_errors()
        last = tf.Variable(-1, dtype=tf.int64, trainable=False)
        skipped = self._skipped

        def count(i, example):
            gap = i - last - 1
            with tf.control_dependencies([skipped.assign_add(gap)]):
                with tf.control_dependencies([last.assign(i)]):
                    return tf.nest.map_structure(tf.identity, example)

        examples = numbered.map(count)

        spec = examples.element_spec

        def count_the_end(_):
            with tf.control_dependencies([skipped.assign_add(read - last - 1)]):
                with tf.control_dependencies([last.assign(read - 1)]):
                    return _empty(spec)

        return examples.concatenate(tf.data.Dataset.range(1).flat_map(count_the_end))

    def batches(
        self,
        batch_size,
        shuffle=False,
        seed=None,
        repeat=False,
        drop_remainder=False,
        start_batch=0,
        labels=True,
        cache=None,
        deterministic=True,
        num_workers=1,
    ):
        """The batched, prefetched pipeline.

        Args:
            batch_size: examples per batch (the global batch under a
                distribution strategy).
            shuffle: shuffle files and records (see `examples`).
            seed: seed of the shuffles.
            repeat: repeat forever (an endless stream for `fit`).
            drop_remainder: only full batches (methods that need a fixed
                batch).
            start_batch: steps to skip (an exact resume). Records are
                skipped before parsing when every record is an example;
                with `skip_invalid` or `cache`, parsed examples are skipped
                instead. Sharded by file between workers, each worker
                skips its own share (`batch_size // num_workers` examples
                per step).
            labels: keep the labels (see `examples`).
            cache: optional file path: `cache()` the parsed examples there
                (one pass; needs `repeat=False` or a finite source).
            deterministic: keep the order of the parallel `map`.
            num_workers: workers of a multi-worker strategy: sets the
                auto-shard policy (`shard_policy`).

        Returns:
            A `tf.data.Dataset` of batches.
        """
        # Examples this pipeline gives per step: sharded by file, each
        # worker reads its own files and `tf.distribute` splits each batch
        # of them over `num_workers` steps of that worker.
        per_step = batch_size
        if num_workers > 1 and self.shard_policy(num_workers) == FILE:
            per_step = batch_size // num_workers
        skip = start_batch * per_step
        # Raw records before parsing when every record is an example and
        # nothing is cached; parsed examples otherwise.
        raw = 0 if self.skip_invalid or cache is not None else skip
        if self.parse_batch is not None and not self.skip_invalid and cache is None:
            ds = self._records(shuffle, seed, repeat).skip(skip)
            ds = ds.batch(batch_size, drop_remainder=drop_remainder)
            ds = ds.map(
                self.parse_batch,
                num_parallel_calls=AUTOTUNE,
                deterministic=deterministic,
            )
            if self.labelled and not labels:
                ds = ds.map(lambda x, y: x)
            return self._finish(ds, deterministic, num_workers)
        ds = self.examples(
            shuffle=shuffle and cache is None,
            seed=seed,
            repeat=repeat and cache is None,
            start=raw,
            labels=labels,
            deterministic=deterministic,
        )
        if cache is not None:
            ds = ds.cache(cache)
            if shuffle:
                ds = ds.shuffle(self.shuffle_buffer, seed=seed)
            if repeat:
                ds = ds.repeat()
        if skip and not raw:
            ds = ds.skip(skip)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        return self._finish(ds, deterministic, num_workers)

    def _finish(self, ds, deterministic, num_workers):
        """Options (determinism, the auto-shard policy) and prefetching."""
        options = tf.data.Options()
        options.deterministic = deterministic
        if num_workers > 1:
            # Applied by `strategy.experimental_distribute_dataset` (what
            # `fit` calls under a multi-worker strategy).
            policy = self.shard_policy(num_workers)
            options.experimental_distribute.auto_shard_policy = policy
            files = self.num_files or 0
            how = (
                f"by file (policy FILE, {files} files: each worker reads its own)"
                if policy == tf.data.experimental.AutoShardPolicy.FILE
                else f"by example (policy DATA, {files} files for {num_workers} "
                "workers: each worker reads every example, keeps its share)"
            )
            logger.info(
                "Sharding %r between %d workers %s.", self.name, num_workers, how
            )
        return ds.with_options(options).prefetch(AUTOTUNE)

    def sample(self, n, seed=0):
        """Up to `n` examples in memory, as a `LabeledData`: the first `n`
        of the seeded shuffled stream (shuffled files, then a buffer of
        `shuffle_buffer` records), for monitoring and vocabularies."""
        from keras_ssl.datasets.labeled_data import LabeledData

        xs, ys = [], []
        batches = self.batches(1024, shuffle=True, seed=seed).take(-(-n // 1024))
        try:
            for batch in batches:
                x, y = batch if self.labelled else (batch, None)
                xs.append(x.numpy())
                if y is not None:
                    ys.append(y.numpy())
        except (tf.errors.InvalidArgumentError, tf.errors.DataLossError) as e:
            raise self.describe_error(e) from None
        x = np.concatenate(xs)[:n]
        if self.modality == "text":
            x = np.asarray([t.decode("utf-8") for t in x] + [None], dtype=object)[:-1]
        y = np.concatenate(ys)[:n] if ys else None
        return LabeledData(x, y, self.label_names, name=f"{self.name}[sample {len(x)}]")

    def check_readable(self, count=1):
        """Parses the first `count` records (in file order) and raises a
        `ValueError` naming the file and record when one fails."""
        try:
            for _ in self.examples().take(count):
                pass
        except (tf.errors.InvalidArgumentError, tf.errors.DataLossError) as e:
            raise self.describe_error(e) from None

    def describe_error(self, error):
        """A `ValueError` for a parsing `error` of this stream, naming the
        file and record when `locate` can find them."""
        where = self.locate(error) if self.locate is not None else None
        message = f"Could not read an example of {self.name!r}: {_reason(error)}."
        if where:
            message += f" The first bad record is {where}."
        message += (
            " Remove or repair it, or pass `skip_invalid=True` "
            "(`--skip-invalid`) to skip and count invalid records."
        )
        return ValueError(message)


def _reason(error):
    """The first line of a `tf.data` error, without TensorFlow's wrapping
    (function names, the iterator's path, the op)."""
    found = re.search(r"transformation with iterator: \S+: ([^\n]*)", error.message)
    lines = [
        line
        for line in error.message.split("\n")
        if line.strip() and not line.startswith(("Graph execution error", "Detected"))
    ]
    message = found.group(1) if found else (lines[0] if lines else "")
    message = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", message)
    message = re.sub(r"Error in user-defined function .*?: \S+: ", "", message)
    message = re.sub(r"\s*\[Op:\w+\].*$", "", message)
    return message.strip().rstrip(".") or type(error).__name__


def _empty(spec):
    """An empty dataset with elements of `spec`."""
    zeros = tf.nest.map_structure(
        lambda s: tf.zeros([d or 0 for d in s.shape], s.dtype), spec
    )
    return tf.data.Dataset.from_tensors(zeros).take(0)


def _call(parse, record):
    """`parse` applied to one record, unpacking a tuple as `map` does."""
    return parse(*record) if isinstance(record, tuple) else parse(record)
