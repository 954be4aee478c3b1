"""Argument checks shared by the export functions."""

import os

import tensorflow as tf


def check_export_dir(export_dir):
    """Returns `export_dir` as a `str`, refusing to write into existing files.

    `export_dir` may be missing or an empty directory (where
    `versioned_export` prepares one); anything else would mix a new
    SavedModel with old files.
    """
    if not isinstance(export_dir, str | os.PathLike):
        raise ValueError(
            "Argument `export_dir` must be a path (str or os.PathLike) to a "
            f"new or empty directory. Received: export_dir={export_dir!r}"
        )
    export_dir = os.fspath(export_dir)
    if not export_dir:
        raise ValueError(
            "Argument `export_dir` must be a path to a new or empty "
            "directory. Received: export_dir=''"
        )
    if os.path.lexists(export_dir):
        if not os.path.isdir(export_dir):
            raise ValueError(
                "Argument `export_dir` must be a path to a new or empty "
                f"directory. Received: export_dir={export_dir!r}, which is "
                "an existing file"
            )
        if os.listdir(export_dir):
            raise FileExistsError(
                f"Export directory {export_dir!r} is not empty; exports never "
                "overwrite existing files. Choose a new directory, or use "
                "`versioned_export` to write the next version."
            )
    return export_dir


def as_float32(tensor):
    """Casts the encoder's output to float32 (mixed-precision encoders)."""
    return tf.cast(tensor, tf.float32)
