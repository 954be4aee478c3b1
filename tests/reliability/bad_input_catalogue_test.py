"""The bad-input catalogue: one table of wrong inputs across the API and CLI.

Every entry must end in a clear error raised by keras_ssl — a `ValueError`,
`FileNotFoundError` or `FileExistsError` whose message names the argument,
what was received and what is expected — or in a documented skip whose
count is logged. None may surface a TensorFlow op error or traceback, and
every error must come before any training (`keras.Model.fit` is disarmed
here) and without touching the network (sockets are blocked here).

API entries call a public function; CLI entries run `keras_ssl.app.cli.main`
and expect exit status 2 and one `keras-ssl <command>: error: ...` line.
The security checks (Keras safe mode, names used in paths, no downloads
unless asked) follow the table.
"""

import ast
import dataclasses
import errno
import functools
import logging
import os
import re
import socket
import sys
from collections.abc import Callable

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_ssl
from keras_ssl import app as workflows
from keras_ssl import datasets, evaluation, export, tokenizers
from keras_ssl.app import cli
from keras_ssl.datasets import fashion_mnist

PACKAGE_DIR = os.path.dirname(os.path.abspath(keras_ssl.__file__)) + os.sep
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
# Text that only a TensorFlow-internal error carries.
TF_MARKERS = ("[Op:", "{{function_node", "tensorflow/core/", "Traceback")
try:
    import tensorflow_datasets  # noqa: F401

    HAS_TFDS = True
except ImportError:  # pragma: no cover - optional dependency
    HAS_TFDS = False


# --- what a case is ---------------------------------------------------------


@dataclasses.dataclass
class Case:
    """One bad input.

    `run(ctx)` triggers it: an API call, or (CLI cases) it returns the argv
    for `keras_ssl.app.cli.main`. `error`/`match`: the expected exception type
    and a regex its message (or the CLI error line) must match. Skip cases
    have `error=None`: `run` must succeed, a warning matching `logged` must
    be logged, and `check(result)` must hold.
    """

    run: Callable
    error: type | None = ValueError
    match: str = ""
    kind: str = "api"  # "api", "cli", "argparse" or "skip"
    logged: str | None = None
    check: Callable | None = None


def api(run, match, error=ValueError):
    return Case(run, error, match)


def cli_case(argv, match):
    return Case(argv, None, match, kind="cli")


def skip(run, logged, check):
    return Case(run, None, "", kind="skip", logged=logged, check=check)


# --- the context the cases run in --------------------------------------------


def png(shape, value=0):
    return tf.io.encode_png(np.full(shape, value, np.uint8)).numpy()


class Ctx:
    """Temporary files and models for one case (created on demand)."""

    def __init__(self, tmp_path, monkeypatch, shared):
        self.tmp = tmp_path
        self.monkeypatch = monkeypatch
        self.shared = shared

    def path(self, name):
        return str(self.tmp / name)

    def file(self, name, data=b"x"):
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return str(path)

    def image_folder(self, files, name="images"):
        """`files`: {"class/file.png": bytes}; returns the folder."""
        root = self.tmp / name
        root.mkdir()
        for relative, data in files.items():
            self.file(f"{name}/{relative}", data)
        return str(root)

    def good_images(self, n=3, shape=(8, 8, 1), name="images"):
        return self.image_folder(
            {f"c{i % 2}/{i}.png": png(shape, 20 * i % 256) for i in range(n)}, name
        )

    def under_a_file(self):
        """An output path that cannot be created, even by root."""
        return os.path.join(self.file("a_file"), "sub")

    @property
    def model_path(self):
        """A tiny SimCLR on 8x8 greyscale images, saved as `.keras`."""
        return self.shared.model_path()

    @property
    def lambda_model_path(self):
        return self.shared.lambda_model_path()

    def arrays(self, shape=(4, 8, 8, 1), labels=(0, 1, 0, 1), name="arrays"):
        x = np.zeros(shape, np.uint8)
        return datasets.from_arrays(x, np.asarray(labels), name=name)

    def output(self):
        return self.path("runs")


class Shared:
    """Session-wide files: the tiny model, the Lambda model."""

    def __init__(self, factory):
        self.factory = factory
        self._model = self._lambda = None

    def model_path(self):
        if self._model is None:
            from keras_ssl.encoders import conv_encoder
            from keras_ssl.models import SimCLR

            model = SimCLR(conv_encoder((8, 8, 1), widths=(4,)), seed=0)
            model(np.zeros((2, 8, 8, 1), "float32"))
            self._model = str(self.factory.mktemp("model") / "model.keras")
            model.save(self._model)
        return self._model

    def lambda_model_path(self):
        if self._lambda is None:
            directory = self.factory.mktemp("lambda")
            self._lambda = save_lambda_model(directory, str(directory / "code_ran"))
        return self._lambda


def save_lambda_model(directory, marker):
    """A `.keras` file whose Lambda layer creates `marker` when it runs."""
    function = eval(  # noqa: S307 - the code the loader must refuse to run
        f"lambda x: (__import__('pathlib').Path({marker!r}).touch(), x)[1]"
    )
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Lambda(function)(inputs))
    path = os.path.join(directory, "lambda.keras")
    model.save(path)
    if os.path.exists(marker):
        os.remove(marker)  # saving traced the function; only loading counts
    return path


@pytest.fixture(scope="session")
def shared(tmp_path_factory):
    return Shared(tmp_path_factory)


@pytest.fixture
def ctx(tmp_path, monkeypatch, shared):
    return Ctx(tmp_path, monkeypatch, shared)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Blocks (and records) every network connection while a case runs."""
    attempts = []

    def refuse(self, address, *args, **kwargs):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(address)
            raise OSError(f"network blocked in tests: {address}")
        return original_connect(self, address, *args, **kwargs)

    def refuse_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(address)
            return errno.ENETUNREACH
        return original_connect_ex(self, address)

    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse_ex)
    yield attempts
    assert attempts == [], f"tried to reach the network: {attempts}"


@pytest.fixture(autouse=True)
def no_training(monkeypatch):
    """Fails a case that gets as far as `fit`: errors must come first."""

    def fit(self, *args, **kwargs):
        raise AssertionError("training started before the bad input was caught")

    monkeypatch.setattr(keras.Model, "fit", fit)


@pytest.fixture
def no_local_fashion_mnist(monkeypatch, tmp_path):
    monkeypatch.delenv(fashion_mnist.ENV_VAR, raising=False)
    monkeypatch.delenv("KERAS_SSL_ALLOW_DOWNLOAD", raising=False)
    monkeypatch.setattr(fashion_mnist, "DEFAULT_DIRS", (str(tmp_path / "none"),))
    calls = []
    monkeypatch.setattr(
        keras.datasets.fashion_mnist, "load_data", lambda: calls.append(1)
    )
    return calls


# --- the cases ----------------------------------------------------------------


def _fashion_mnist_without_local_copy(ctx):
    ctx.monkeypatch.delenv(fashion_mnist.ENV_VAR, raising=False)
    ctx.monkeypatch.delenv("KERAS_SSL_ALLOW_DOWNLOAD", raising=False)
    ctx.monkeypatch.setattr(fashion_mnist, "DEFAULT_DIRS", (ctx.path("none"),))

    def download():
        raise AssertionError("downloaded without being asked")

    ctx.monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", download)
    return datasets.load_fashion_mnist("test", data_dir=ctx.path("empty"))


def _read_only_base_dir(ctx):
    if IS_ROOT:
        pytest.skip("root writes into read-only folders (see the a_file/sub case)")
    folder = ctx.tmp / "read_only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        export.versioned_export(lambda export_dir: None, str(folder), "m")
    finally:
        folder.chmod(0o700)


def _export_over_existing_version(ctx):
    base = ctx.tmp / "saved_models"
    (base / "m" / "1").mkdir(parents=True)
    export.versioned_export(lambda export_dir: None, str(base), "m", 1)


def _export_into_non_empty_dir(ctx):
    encoder = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten()])
    ctx.file("export/saved_model.pb")
    export.export_image_encoder(encoder, ctx.path("export"))


def _tiny_encoder():
    return keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(4)]
    )


def _vocabulary_file(ctx, lines):
    return tokenizers.TextPreprocessor(ctx.file("vocab.txt", lines), 8)


SPECIAL = "[PAD]\n[CLS]\n[SEP]\n[UNK]\n[MASK]\n"

CASES = {
    # Image folders.
    "image_folder_corrupt_file": api(
        lambda c: datasets.load_image_folder(
            c.image_folder({"a/ok.png": png((8, 8, 1)), "b/bad.png": b"not an image"})
        ),
        r"Could not decode image file .*bad\.png.*Expected a complete PNG.*"
        r"skip_invalid=True",
    ),
    "image_folder_truncated_png": api(
        lambda c: datasets.load_image_folder(
            c.image_folder(
                {"a/ok.png": png((8, 8, 1)), "b/cut.png": png((8, 8, 1))[:30]}
            )
        ),
        r"Could not decode image file .*cut\.png' \(30 bytes\)",
    ),
    "image_folder_corrupt_file_skipped": skip(
        lambda c: datasets.load_image_folder(
            c.image_folder(
                {
                    "a/ok.png": png((8, 8, 1)),
                    "b/ok.png": png((8, 8, 1)),
                    "b/bad.png": b"garbage",
                }
            ),
            skip_invalid=True,
        ),
        r"Skipped 1 undecodable image file\(s\)",
        lambda data: len(data) == 2,
    ),
    "image_folder_only_corrupt_files_skipped": api(
        lambda c: datasets.load_image_folder(
            c.image_folder({"a/bad.png": b"garbage"}), skip_invalid=True
        ),
        r"dataset is empty.*1 undecodable file\(s\) skipped",
    ),
    "image_folder_mixed_sizes": api(
        lambda c: datasets.load_image_folder(
            c.image_folder({"a/small.png": png((8, 8, 1)), "b/big.png": png((9, 8, 1))})
        ),
        r"different sizes.*\(9, 8, 1\).*\(8, 8, 1\).*image_size=\(height, width\)",
    ),
    "image_folder_color_mode_typo": api(
        lambda c: datasets.load_image_folder(c.good_images(), color_mode="greyscale"),
        r"Received: color_mode='greyscale'.*Did you mean 'grayscale'\?",
    ),
    "image_folder_empty": api(
        lambda c: datasets.load_image_folder(c.image_folder({"a/notes.txt": b"x"})),
        r"dataset is empty: no examples found in image folder",
    ),
    "greyscale_model_given_rgb_images": api(
        lambda c: workflows.evaluate_images(
            c.model_path,
            (
                c.arrays((4, 8, 8, 3), name="rgb_train"),
                c.arrays((4, 8, 8, 3), name="rgb_test"),
            ),
        ),
        r"match the encoder's input shape \(8, 8, 1\)\. Received: .*x\.shape="
        r"\(4, 8, 8, 3\).*channels differ",
    ),
    "linear_probe_rgb_into_greyscale_encoder": api(
        lambda c: evaluation.linear_probe(
            _tiny_encoder(),
            np.zeros((4, 8, 8, 3), "float32"),
            np.array([0, 1, 0, 1]),
            np.zeros((4, 8, 8, 3), "float32"),
            np.array([0, 1, 0, 1]),
        ),
        r"Argument `x` must match the encoder's input shape\. Received: x with "
        r"shape \(4, 8, 8, 3\)\. Expected: \(num_examples, 8, 8, 1\)",
    ),
    # Text files and CSV.
    "text_file_not_utf8": api(
        lambda c: datasets.load_text_file(c.file("t.txt", b"fine\n\xff\xfe bad\n")),
        r"not valid UTF-8: line 2 has an invalid byte b'\\xff'",
    ),
    "text_file_only_empty_lines": api(
        lambda c: datasets.load_text_file(c.file("t.txt", "\n  \n\n")),
        r"dataset is empty: no examples found in text file",
    ),
    "text_file_empty_lines_skipped": skip(
        lambda c: datasets.load_text_file(c.file("t.txt", "a cat\n\n  \na dog\n")),
        r"Skipped 2 empty line\(s\)",
        lambda data: list(data.x) == ["a cat", "a dog"],
    ),
    "text_file_missing": api(
        lambda c: datasets.load_text_file(c.path("missing.txt")),
        r"File not found\. Received: path='.*missing\.txt'",
        FileNotFoundError,
    ),
    "csv_without_the_named_column": api(
        lambda c: datasets.load_csv(c.file("d.csv", "text,label\na,0\n"), "body"),
        r"Received: text_column='body'\. Expected one of the columns present: "
        r"\['text', 'label'\]",
    ),
    "csv_missing_label": api(
        lambda c: datasets.load_csv(
            c.file("d.csv", "text,label\na,0\nb,\n"), "text", "label"
        ),
        r"Missing label in .*row 3 \(column 'label'\)",
    ),
    "csv_empty_text_rows_skipped": skip(
        lambda c: datasets.load_csv(
            c.file("d.csv", "text,label\na,0\n,1\nb,1\n"), "text", "label"
        ),
        r"Skipped 1 row\(s\) with empty text",
        lambda data: len(data) == 2 and list(data.y) == [0, 1],
    ),
    "csv_header_only": api(
        lambda c: datasets.load_csv(c.file("d.csv", "text,label\n"), "text"),
        r"dataset is empty: no examples found in CSV file",
    ),
    "csv_without_text_column_by_name": api(
        lambda c: datasets.load(c.file("d.csv", "body,label\na,0\n")),
        r"needs `text_column=`.*Received: columns \['body', 'label'\]",
    ),
    "file_of_unsupported_type": api(
        lambda c: datasets.load(c.file("d.json", "{}")),
        r"Unknown dataset name\. Received: name='.*d\.json'.*unsupported type "
        r"\(\.json extension\)",
    ),
    # In-memory arrays and LabeledData.
    "labels_negative": api(
        lambda c: datasets.from_arrays(np.zeros((3, 8, 8), np.uint8), [0, -1, 1]),
        r"non-negative class indices\. Received: min\(y\)=-1",
    ),
    "labels_beyond_label_names": api(
        lambda c: datasets.from_arrays(
            np.zeros((3, 8, 8), np.uint8), [0, 1, 2], label_names=["a", "b"]
        ),
        r"more than max\(y\)=2.*Received: label_names=\['a', 'b'\]",
    ),
    "label_names_without_labels": api(
        lambda c: datasets.from_arrays(
            np.zeros((3, 8, 8), np.uint8), label_names=["a", "b"]
        ),
        r"`label_names` requires `y`\. Received: y=None",
    ),
    "labels_wrong_length": api(
        lambda c: datasets.from_arrays(np.zeros((4, 8, 8), np.uint8), [0, 1]),
        r"one label per example \(4\)\. Received: y with shape \(2,\)",
    ),
    "float_images": api(
        lambda c: datasets.from_arrays(np.zeros((2, 8, 8, 1), "float32")),
        r"Received: x with shape \(2, 8, 8, 1\) and dtype float32\. Convert "
        r"float images",
    ),
    "empty_arrays": api(
        lambda c: datasets.from_arrays(np.zeros((0, 8, 8), np.uint8)),
        r"dataset is empty: no examples found in `x`",
    ),
    "batch_larger_than_dataset_with_drop_remainder": api(
        lambda c: c.arrays().to_tf_dataset(8, drop_remainder=True),
        r"Received: batch_size=8 for 4 examples in 'arrays'\. Expected "
        r"batch_size <= 4, or drop_remainder=False",
    ),
    "split_fraction_out_of_range": api(
        lambda c: c.arrays().split(test_fraction=1.5),
        r"strictly between 0 and 1\. Received: test_fraction=1\.5",
    ),
    # Dataset names and downloads.
    "unknown_dataset_name": api(
        lambda c: datasets.load("fashion_mnst"),
        r"Received: name='fashion_mnst'\. Expected one of .*Did you mean "
        r"'fashion_mnist'\?",
    ),
    "unknown_tfds_name": pytest.param(
        api(
            lambda c: datasets.load("tfds:cifar11"),
            r"Unknown TFDS dataset\. Received: name='cifar11'.*Did you mean "
            r"one of \[.*'cifar10'.*\]\?",
        ),
        marks=pytest.mark.skipif(not HAS_TFDS, reason="needs tensorflow-datasets"),
    ),
    "tfds_not_prepared_and_no_download_asked": pytest.param(
        api(
            lambda c: datasets.load("tfds:mnist", data_dir=c.path("tfds")),
            r"not prepared locally\. Received: name='mnist'.*pass `download=True`",
            FileNotFoundError,
        ),
        marks=pytest.mark.skipif(not HAS_TFDS, reason="needs tensorflow-datasets"),
    ),
    "fashion_mnist_missing_and_no_download_asked": api(
        _fashion_mnist_without_local_copy,
        r"Could not find the Fashion-MNIST 'test' files.*no download: not asked "
        r"for \(pass `download=True`",
        FileNotFoundError,
    ),
    # Vocabularies and texts.
    "vocabulary_file_missing": api(
        lambda c: tokenizers.TextPreprocessor(c.path("vocab.txt"), 8),
        r"Vocabulary file not found\. Received: path='.*vocab\.txt'",
        FileNotFoundError,
    ),
    "vocabulary_file_empty": api(
        lambda c: _vocabulary_file(c, ""),
        r"vocabulary file is empty\. Received: path=.* with 0 tokens",
    ),
    "vocabulary_file_blank_line": api(
        lambda c: _vocabulary_file(c, SPECIAL + "a\n\nb\n"),
        r"1 empty line\(s\), the first is line 7",
    ),
    "vocabulary_without_special_tokens": api(
        lambda c: _vocabulary_file(c, "a\nb\nc\n"),
        r"must hold the special tokens .*Received: 3 tokens, missing "
        r"\['\[PAD\]'",
    ),
    "sequence_length_too_short": api(
        lambda c: tokenizers.TextPreprocessor(SPECIAL.split() + ["a"], 2),
        r"`sequence_length` must be an int >= 3.*Received: sequence_length=2",
    ),
    "texts_not_utf8": api(
        lambda c: tokenizers.check_texts(["ok", b"\xff bad"]),
        r"must hold UTF-8 text\. Received: 1 of 2 items .*texts\[1\]=b'\\xff bad'",
    ),
    "texts_empty": api(
        lambda c: tokenizers.check_texts(["a cat", "  "]),
        r"empty or whitespace-only texts\. Received: 1 of 2; the first is "
        r"texts\[1\]='  '",
    ),
    "vocabulary_size_too_small": api(
        lambda c: tokenizers.train_word_piece_vocabulary(["a cat"], 3),
        r"`vocabulary_size` must be an int larger than the 5 special tokens.*"
        r"Received: vocabulary_size=3",
    ),
    # Evaluation protocols.
    "linear_probe_one_class": api(
        lambda c: evaluation.linear_probe(
            None, None, [0, 0], None, [0, 0], features=(np.ones((2, 3)),) * 2
        ),
        r"`y_train` must contain at least 2 classes\. Received: y_train with 1",
    ),
    "linear_probe_float_labels": api(
        lambda c: evaluation.linear_probe(
            None, None, [0.0, 1.0], None, [0, 1], features=(np.ones((2, 3)),) * 2
        ),
        r"`y_train` must be a 1-D array of integer class ids\. Received: "
        r"y_train with shape=\(2,\) and dtype=float64",
    ),
    "knn_k_larger_than_bank": api(
        lambda c: evaluation.knn_evaluate(
            None,
            None,
            [0, 1, 0, 1],
            None,
            [0],
            k=5,
            features=(np.ones((4, 3)), np.ones((1, 3))),
            k_rule=None,
        ),
        r"`k` must not exceed the number of bank examples\. Received: k=5 with "
        r"a bank of 4",
    ),
    "knn_temperature_not_positive": api(
        lambda c: evaluation.knn_evaluate(
            None,
            None,
            [0, 1],
            None,
            [0],
            k=1,
            temperature="0.1",
            features=(np.ones((2, 3)), np.ones((1, 3))),
        ),
        r"`temperature` must be a positive float\. Received: temperature='0\.1'",
    ),
    "knn_feature_dimensions_differ": api(
        lambda c: evaluation.knn_evaluate(
            None,
            None,
            [0, 1],
            None,
            [0],
            k=1,
            features=(np.ones((2, 3)), np.ones((1, 4))),
        ),
        r"same dimension\. Received: features with shapes \(\(2, 3\), \(1, 4\)\)",
    ),
    "fine_tune_negative_labels": api(
        lambda c: evaluation.fine_tune(
            _tiny_encoder(),
            np.zeros((4, 8, 8, 1), "float32"),
            np.array([0, 1, -1, 1]),
            None,
            None,
            batch_size=2,
        ),
        r"`y_train` must hold class ids >= 0\. Received: min\(y_train\)=-1",
    ),
    "fine_tune_batch_larger_than_data": api(
        lambda c: evaluation.fine_tune(
            _tiny_encoder(),
            np.zeros((4, 8, 8, 1), "float32"),
            np.array([0, 1, 0, 1]),
            None,
            None,
            batch_size=16,
        ),
        r"`batch_size` must be an int between 1 and the number of training "
        r"examples \(4\)\. Received: batch_size=16",
    ),
    # Export.
    "export_over_existing_version": api(
        _export_over_existing_version,
        r"Version 1 of 'm' already exists at .*; exports never overwrite",
        FileExistsError,
    ),
    "export_into_non_empty_folder": api(
        _export_into_non_empty_dir,
        r"Export directory .*export' is not empty; exports never overwrite",
        FileExistsError,
    ),
    "export_name_with_separator": api(
        lambda c: export.versioned_export(lambda export_dir: None, c.tmp, "a/b"),
        r"`name` must be a non-empty folder name.*without path separators or "
        r"'\.\.'\. Received: name='a/b'",
    ),
    "export_name_parent_folder": api(
        lambda c: export.versioned_export(lambda export_dir: None, c.tmp, ".."),
        r"Received: name='\.\.'",
    ),
    "export_name_hidden": api(
        lambda c: export.versioned_export(lambda export_dir: None, c.tmp, ".m"),
        r"not starting with '\.'.*Received: name='\.m'",
    ),
    "export_bad_version": api(
        lambda c: export.versioned_export(lambda export_dir: None, c.tmp, "m", 0),
        r"`version` must be a positive int or 'auto'.*Received: version=0",
    ),
    "export_base_dir_under_a_file": api(
        lambda c: export.versioned_export(
            lambda export_dir: None, c.under_a_file(), "m"
        ),
        r"`base_dir` must be a folder that can be written to\. Received: "
        r"base_dir='.*a_file/sub', but '.*a_file' is an existing file",
    ),
    "export_base_dir_read_only": api(
        _read_only_base_dir,
        r"`base_dir` must be a folder that can be written to.*not writable",
    ),
    # Workflows through their Python functions.
    "tune_project_name_escapes_its_folder": api(
        lambda c: workflows.tune(c.model_path, project_name="../escape"),
        r"`project_name` must be a non-empty folder name.*Received: "
        r"project_name='\.\./escape'",
    ),
    "tune_output_dir_under_a_file": api(
        lambda c: workflows.tune(c.model_path, output_dir=c.under_a_file()),
        r"`output_dir` must be a folder that can be written to\. Received: "
        r"output_dir='.*a_file/sub'",
    ),
    "tune_pretraining_output_dir_under_a_file": api(
        lambda c: workflows.tune_pretraining(output_dir=c.under_a_file()),
        r"`output_dir` must be a folder that can be written to",
    ),
    "evaluate_log_dir_under_a_file": api(
        lambda c: workflows.evaluate_images(
            c.model_path, (c.arrays(), c.arrays()), log_dir=c.under_a_file()
        ),
        r"`log_dir` must be a folder that can be written to\. Received: "
        r"log_dir='.*a_file/sub'",
    ),
    "model_file_corrupt": api(
        lambda c: workflows.load_ssl_model(c.file("m.keras", b"not a zip")),
        r"must be a valid \.keras file.*Received: model='.*m\.keras', which is "
        r"not a zip archive",
    ),
    "model_file_with_python_code": api(
        lambda c: workflows.load_ssl_model(c.lambda_model_path),
        r"Refusing to load '.*lambda\.keras': it holds Python code.*safe mode",
    ),
    "export_workflow_existing_version_before_loading": api(
        lambda c: (
            os.makedirs(c.path("saved/m/3")),
            workflows.export(c.path("absent.keras"), "m", c.path("saved"), 3),
        ),
        r"Version 3 of 'm' already exists",
        FileExistsError,
    ),
    "tune_negative_seed": api(
        lambda c: workflows.tune(c.model_path, seed=-1, output_dir=c.output()),
        r"`seed` must be an int in \[0, 2\*\*32 - 2\]\. Received: seed=-1",
    ),
    "pretrain_steps_per_epoch_zero": pytest.param(
        api(
            lambda c: workflows.pretrain(
                "simclr",
                c.arrays(),
                batch_size=2,
                steps_per_epoch=0,
                output_dir=c.output(),
                model_kwargs={"widths": (4,)},
            ),
            r"`steps_per_epoch` must be a positive int\. Received: "
            r"steps_per_epoch=0",
        ),
    ),
    "pretrain_negative_time_budget": pytest.param(
        api(
            lambda c: workflows.pretrain(
                "simclr",
                c.arrays(),
                batch_size=2,
                time_budget=-5,
                output_dir=c.output(),
                model_kwargs={"widths": (4,)},
            ),
            r"`time_budget` must be .*Received: time_budget=-5",
        ),
    ),
    # The command line.
    "cli_pretrain_negative_seed": pytest.param(
        cli_case(
            lambda c: [
                "pretrain",
                "--dataset",
                c.good_images(),
                "--seed",
                "-1",
                "--output-dir",
                c.output(),
            ],
            r"`seed` must be an int.*Received: seed=-1",
        ),
    ),
    "cli_pretrain_tfds_not_prepared": pytest.param(
        cli_case(
            lambda c: [
                "pretrain",
                "--dataset",
                "tfds:binarized_mnist",
                "--output-dir",
                c.output(),
            ],
            r"not prepared locally\. Received: name='binarized_mnist'.*"
            r"`download=True`",
        ),
        marks=pytest.mark.skipif(not HAS_TFDS, reason="needs tensorflow-datasets"),
    ),
    "cli_pretrain_mixed_image_sizes": cli_case(
        lambda c: [
            "pretrain",
            "--dataset",
            c.image_folder({"a/1.png": png((8, 8, 1)), "b/2.png": png((6, 8, 1))}),
            "--output-dir",
            c.output(),
        ],
        r"Images have different sizes\. Received: .*2\.png' with shape "
        r"\(6, 8, 1\)",
    ),
    "cli_probe_rgb_folder_on_greyscale_model": cli_case(
        lambda c: [
            "probe",
            "--model",
            c.model_path,
            "--dataset",
            c.good_images(n=10, shape=(8, 8, 3)),
            "--color-mode",
            "rgb",
        ],
        r"match the encoder's input shape \(8, 8, 1\).*channels differ",
    ),
    "cli_probe_negative_seed": cli_case(
        lambda c: ["probe", "--model", c.model_path, "--seed", "-1"],
        r"`seed` must be an int in \[0, 2\*\*32 - 2\]\. Received: seed=-1",
    ),
    "cli_finetune_csv_without_text_column": cli_case(
        lambda c: [
            "finetune",
            "--model",
            c.model_path,
            "--dataset",
            c.file("d.csv", "body,label\na,0\n"),
            "--output-dir",
            c.output(),
        ],
        r"--text-column",
    ),
    "cli_pretrain_unknown_method": cli_case(
        lambda c: ["pretrain", "--method", "simclrr", "--output-dir", c.output()],
        r"Unknown method\. Received: method='simclrr'.*Did you mean 'simclr'\?",
    ),
    "cli_pretrain_unknown_dataset": cli_case(
        lambda c: ["pretrain", "--dataset", "fashion_mnst", "--output-dir", c.output()],
        r"Received: name='fashion_mnst'.*Did you mean 'fashion_mnist'\?",
    ),
    "cli_pretrain_unknown_strategy": cli_case(
        lambda c: [
            "pretrain",
            "--dataset",
            c.good_images(),
            "--strategy",
            "mirorred",
            "--output-dir",
            c.output(),
        ],
        r"Received: strategy='mirorred'.*Did you mean 'mirrored'\?",
    ),
    "cli_pretrain_zero_epochs": cli_case(
        lambda c: [
            "pretrain",
            "--dataset",
            c.good_images(),
            "--epochs",
            "0",
            "--output-dir",
            c.output(),
        ],
        r"`epochs` must be a positive int\. Received: epochs=0",
    ),
    "cli_pretrain_negative_learning_rate": cli_case(
        lambda c: [
            "pretrain",
            "--dataset",
            c.good_images(),
            "--learning-rate",
            "-1",
            "--output-dir",
            c.output(),
        ],
        r"`learning_rate` must be > 0\. Received: learning_rate=-1",
    ),
    "cli_pretrain_batch_larger_than_dataset": cli_case(
        lambda c: [
            "pretrain",
            "--dataset",
            c.good_images(),
            "--batch-size",
            "16",
            "--output-dir",
            c.output(),
        ],
        r"`batch_size` must not exceed the dataset size\. Received: "
        r"batch_size=16 for 3 examples",
    ),
    "cli_pretrain_unwritable_output_dir": cli_case(
        lambda c: [
            "pretrain",
            "--dataset",
            c.good_images(),
            "--output-dir",
            c.under_a_file(),
        ],
        r"output_dir='.*a_file/sub'",
    ),
    "cli_pretrain_model_kwargs_not_an_object": cli_case(
        lambda c: [
            "pretrain",
            "--dataset",
            c.good_images(),
            "--model-kwargs",
            "[1]",
            "--output-dir",
            c.output(),
        ],
        r"`--model-kwargs` must be a JSON object\. Received: '\[1\]'",
    ),
    "cli_pretrain_model_kwargs_unknown_key": cli_case(
        lambda c: [
            "pretrain",
            "--dataset",
            c.good_images(),
            "--model-kwargs",
            '{"temprature": 0.1}',
            "--output-dir",
            c.output(),
        ],
        r"temprature",
    ),
    "cli_pretrain_text_method_on_images": cli_case(
        lambda c: [
            "pretrain",
            "--method",
            "mlm",
            "--dataset",
            c.good_images(),
            "--output-dir",
            c.output(),
        ],
        r"mlm needs text\. Received: dataset=.*x\.dtype=uint8",
    ),
    "cli_pretrain_corrupt_image_folder": cli_case(
        lambda c: [
            "pretrain",
            "--dataset",
            c.image_folder({"a/ok.png": png((8, 8, 1)), "b/bad.png": b"oops"}),
            "--output-dir",
            c.output(),
        ],
        r"Could not decode image file .*bad\.png",
    ),
    "cli_pretrain_epochs_not_an_int": Case(
        lambda c: ["pretrain", "--epochs", "two"],
        None,
        r"argument --epochs: invalid int value: 'two'",
        kind="argparse",
    ),
    "cli_probe_model_file_missing": cli_case(
        lambda c: ["probe", "--model", c.path("missing.keras")],
        r"`model` must be a path to a \.keras file.*Received: model='.*"
        r"missing\.keras' \(no such file\)",
    ),
    "cli_probe_model_file_corrupt": cli_case(
        lambda c: ["probe", "--model", c.file("m.keras", b"PK\x03\x04 cut")],
        r"not a zip archive",
    ),
    "cli_probe_model_file_with_python_code": cli_case(
        lambda c: ["probe", "--model", c.lambda_model_path],
        r"Refusing to load .*safe mode",
    ),
    "cli_export_name_escapes_base_dir": cli_case(
        lambda c: [
            "export",
            "--model",
            c.model_path,
            "--name",
            "../evil",
            "--base-dir",
            c.path("saved"),
        ],
        r"`name` must be a non-empty folder name.*Received: name='\.\./evil'",
    ),
    "cli_export_over_existing_version": cli_case(
        lambda c: [
            "export",
            "--model",
            c.model_path,
            "--name",
            "m",
            "--version",
            "1",
            "--base-dir",
            c.file("saved/m/1/saved_model.pb") and c.path("saved"),
        ],
        r"Version 1 of 'm' already exists",
    ),
    "cli_export_version_zero": cli_case(
        lambda c: [
            "export",
            "--model",
            c.model_path,
            "--name",
            "m",
            "--version",
            "0",
            "--base-dir",
            c.path("saved"),
        ],
        r"version.*Received: .*version=0",
    ),
    "cli_export_unwritable_base_dir": cli_case(
        lambda c: [
            "export",
            "--model",
            c.model_path,
            "--name",
            "m",
            "--base-dir",
            c.under_a_file(),
        ],
        r"`base_dir` must be a folder that can be written to",
    ),
    "cli_finetune_unknown_freeze": cli_case(
        lambda c: [
            "finetune",
            "--model",
            c.model_path,
            "--dataset",
            c.good_images(n=4),
            "--freeze",
            "bogus",
            "--output-dir",
            c.output(),
        ],
        r"`freeze` must be 'head'.*Received: freeze='bogus'",
    ),
    "cli_finetune_labels_missing": cli_case(
        lambda c: [
            "finetune",
            "--model",
            c.model_path,
            "--dataset",
            c.file("t.txt", "a\nb\nc\n"),
            "--output-dir",
            c.output(),
        ],
        r"needs labelled data",
    ),
    "cli_tune_unknown_tuner": cli_case(
        lambda c: [
            "tune",
            "--model",
            c.model_path,
            "--tuner",
            "randm",
            "--output-dir",
            c.output(),
        ],
        r"Unknown tuner\. Received: tuner='randm'.*Did you mean 'random'\?",
    ),
    "cli_tune_zero_trials": cli_case(
        lambda c: [
            "tune",
            "--model",
            c.model_path,
            "--max-trials",
            "0",
            "--output-dir",
            c.output(),
        ],
        r"`max_trials` must be a positive int\. Received: max_trials=0",
    ),
    "cli_tune_pretraining_unknown_objective": cli_case(
        lambda c: [
            "tune-pretraining",
            "--objective",
            "knn",
            "--output-dir",
            c.output(),
        ],
        r"Received: objective='knn'.*Did you mean 'knn_accuracy'\?",
    ),
}


def _params():
    for name, case in CASES.items():
        if not isinstance(case, Case):  # a pytest.param with marks
            yield pytest.param(*case.values, id=name, marks=case.marks)
        else:
            yield pytest.param(case, id=name)


def test_the_catalogue_is_large_and_varied():
    kinds = [
        (c.values[0] if not isinstance(c, Case) else c).kind for c in CASES.values()
    ]
    assert len(CASES) >= 30
    assert kinds.count("cli") + kinds.count("argparse") >= 10
    assert kinds.count("skip") >= 3


# --- running a case -------------------------------------------------------------


def _innermost_file(error):
    tb = error.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return os.path.abspath(tb.tb_frame.f_code.co_filename)


def _assert_clean_error(error, match):
    message = str(error)
    assert re.search(match, message, re.S), (
        f"message does not match {match!r}:\n{message}"
    )
    assert not isinstance(error, tf.errors.OpError), repr(error)
    for marker in TF_MARKERS:
        assert marker not in message, f"TensorFlow internals in: {message}"
    assert "Received" in message or "Expected" in message or "found" in message, (
        f"the message should say what was received or expected: {message}"
    )
    where = _innermost_file(error)
    assert where.startswith(PACKAGE_DIR), f"raised outside keras_ssl, in {where}"


@pytest.mark.parametrize("case", list(_params()))
def test_bad_input(case, ctx, capsys, caplog):
    if case.kind == "api":
        with pytest.raises(case.error) as info:
            case.run(ctx)
        _assert_clean_error(info.value, case.match)
    elif case.kind == "skip":
        with caplog.at_level(logging.WARNING):
            result = case.run(ctx)
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert re.search(case.logged, logged), f"not logged: {case.logged!r}"
        assert case.check(result)
    elif case.kind == "argparse":
        with pytest.raises(SystemExit) as info:
            cli.main(case.run(ctx))
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert re.search(case.match, err), err
        assert "Traceback" not in err
    else:
        argv = case.run(ctx)
        code = cli.main(argv)
        out, err = capsys.readouterr()
        assert code == 2, f"exit status {code}; stderr:\n{err}"
        assert "Traceback" not in out + err
        first = err.strip().splitlines()[0]
        prefix = f"keras-ssl {argv[0]}: error: "
        assert first.startswith(prefix), err
        message = first[len(prefix) :]
        assert not message.startswith("unexpected "), first
        assert re.search(case.match, message), f"{case.match!r} not in: {first}"
        for marker in TF_MARKERS:
            assert marker not in message, first


# --- security ------------------------------------------------------------------


def test_python_code_in_a_model_file_never_runs(tmp_path):
    """Safe mode stays on even when unsafe deserialization was enabled."""
    from keras.src.saving.serialization_lib import SafeModeScope

    marker = str(tmp_path / "code_ran")
    path = save_lambda_model(str(tmp_path), marker)
    with SafeModeScope(False):  # as after keras.config.enable_unsafe_deserialization()
        for load in (
            workflows.load_ssl_model,
            lambda p: workflows.export(p, "m", str(tmp_path / "saved")),
        ):
            with pytest.raises(ValueError, match="Refusing to load"):
                load(path)
    assert not os.path.exists(marker)
    # The file does run code when loaded unsafely: the test means something.
    keras.saving.load_model(path, safe_mode=False)
    assert os.path.exists(marker)


@functools.cache
def _load_model_calls():
    """`(file, line, has safe_mode=True)` for every `load_model(...)` call."""
    return tuple(_find_load_model_calls())


def _find_load_model_calls():
    for root, _, files in os.walk(PACKAGE_DIR):
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(root, name)
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                called = getattr(func, "attr", getattr(func, "id", None))
                if called != "load_model":
                    continue
                safe = any(
                    k.arg == "safe_mode"
                    and isinstance(k.value, ast.Constant)
                    and k.value.value is True
                    for k in node.keywords
                )
                yield os.path.relpath(path, PACKAGE_DIR), node.lineno, safe


_NOT_YET_SAFE = {}  # path -> the fix it needs (none left)


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(
            f"{path}:{line}",
            marks=[pytest.mark.xfail(strict=True, reason=_NOT_YET_SAFE[path])]
            if path in _NOT_YET_SAFE
            else [],
            id=f"{path}:{line}",
        )
        for path, line, _ in _load_model_calls()
    ],
)
def test_every_load_model_call_passes_safe_mode(where):
    path, line = where.rsplit(":", 1)
    calls = {(p, str(n)): safe for p, n, safe in _load_model_calls()}
    assert calls[(path, line)], f"{where}: load_model without safe_mode=True"


@pytest.mark.parametrize(
    "name", ["../x", "a/b", "a\\b", "..", ".", ".hidden", "", "-x", "a b", None]
)
def test_names_used_in_paths_are_one_folder_name(tmp_path, name):
    from keras_ssl.export._checks import check_path_name

    with pytest.raises(ValueError, match=r"Received: project_name="):
        check_path_name(name, "project_name")
    with pytest.raises(ValueError, match=r"Received: name="):
        workflows.export(str(tmp_path / "absent.keras"), name, str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_no_download_unless_asked(no_local_fashion_mnist, monkeypatch, tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        datasets.load("fashion_mnist", split="test")
    assert no_local_fashion_mnist == []  # keras' downloader was not called
    # Asking (argument or environment variable) reaches the downloader.
    with pytest.raises(FileNotFoundError, match=r"load_data\(\) \(download failed"):
        datasets.load_fashion_mnist("test", download=True)
    monkeypatch.setenv("KERAS_SSL_ALLOW_DOWNLOAD", "1")
    with pytest.raises(FileNotFoundError):
        datasets.load_fashion_mnist("test")
    assert no_local_fashion_mnist == [1, 1]
    monkeypatch.setenv("KERAS_SSL_ALLOW_DOWNLOAD", "maybe")
    with pytest.raises(ValueError, match="KERAS_SSL_ALLOW_DOWNLOAD='maybe'"):
        datasets.load_fashion_mnist("test")


@pytest.mark.skipif(not HAS_TFDS, reason="needs tensorflow-datasets")
def test_tfds_reads_only_prepared_data_unless_asked(tmp_path, no_network):
    with pytest.raises(FileNotFoundError, match="not prepared locally"):
        datasets.load_tfds("mnist", data_dir=str(tmp_path))
    assert no_network == []
    with pytest.raises(ValueError, match="try_gcs=True"):
        datasets.load_tfds("mnist", try_gcs=True)


def test_embedded_defaults_load_offline():
    if not os.path.isdir("/usr/share/datasets/fashion-mnist"):
        pytest.skip("needs the Debian data (scripts/install_data.sh)")
    assert len(datasets.load("fashion_mnist", split="test")) == 10000


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
