"""Deprecated alias of `keras_ssl.app.cli` (the command line moved there)."""

import warnings

from keras_ssl.app.cli import build_parser, main  # noqa: F401

warnings.warn(
    "`keras_ssl.cli` is deprecated: import `keras_ssl.app.cli` instead.",
    DeprecationWarning,
    stacklevel=2,
)
