"""Argument checks shared by the export functions (and the workflows)."""

import os
import re

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
                f"overwrite existing files. Received: export_dir={export_dir!r}. "
                "Expected a new or empty directory (or use `versioned_export` "
                "to write the next version)."
            )
    return export_dir


def as_float32(tensor):
    """Casts the encoder's output to float32 (mixed-precision encoders)."""
    return tf.cast(tensor, tf.float32)


_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def check_path_name(value, argument="name"):
    """Raises a `ValueError` unless `value` is safe as one folder name.

    Names that become folder names (export names, keras-tuner project
    names) must be one path component: letters, digits, `_`, `.` and `-`,
    not starting with `.` (hidden, and TF Serving ignores it) or `-`, without
    `..`, path separators or spaces, at most 128 characters.
    """
    if (
        not isinstance(value, str)
        or len(value) > 128
        or not _NAME_RE.fullmatch(value)
        or ".." in value
    ):
        raise ValueError(
            f"Argument `{argument}` must be a non-empty folder name made of "
            "letters, digits, '_', '.' and '-' (not starting with '.' or '-', "
            "at most 128 characters), without path separators or '..'. "
            f"Received: {argument}={value!r}"
        )
    return value


def check_writable_dir(path, argument):
    """Raises a `ValueError` unless `path` is, or can be created as, a
    writable folder; creates nothing.

    The nearest existing ancestor of `path` must be a folder that this
    process may write into (checked with `os.access`, so a superuser passes
    where the file system would let it write).
    """
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise ValueError(
            f"Argument `{argument}` must be a non-empty path (str or "
            f"os.PathLike). Received: {argument}={path!r}"
        )
    path = os.fspath(path)
    existing = os.path.abspath(path)
    while not os.path.lexists(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            break
        existing = parent
    if not os.path.isdir(existing):
        raise ValueError(
            f"Argument `{argument}` must be a folder that can be written to. "
            f"Received: {argument}={path!r}, but {existing!r} is an existing "
            "file, not a folder. Expected a path to a new or existing folder."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(
            f"Argument `{argument}` must be a folder that can be written to. "
            f"Received: {argument}={path!r}, but {existing!r} is not writable "
            "by this user. Expected a writable location."
        )
    return path
