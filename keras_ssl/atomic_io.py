"""Atomic file writes: write a temporary file in the same folder, then rename.

A leaf module (standard library only, no keras_ssl or Keras import): the
checkpoints, the exports, the figures and the run directories of the
application share this one implementation, and tests can load it cheaply.
"""

import os
import uuid

TMP_MARKER = ".tmp-"


def temporary_path(path, suffix=""):
    """A hidden, unique path next to `path` (same folder, same file system).

    `suffix` keeps the extension some writers insist on (`.keras`,
    `.weights.h5`).
    """
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return os.path.join(folder, f".{name}{TMP_MARKER}{tag}{suffix}")


def _fsync(path, directory=False):
    # Best effort: the rename is what makes the write atomic; fsync only adds
    # durability across a power loss, and some file systems refuse it on
    # folders.
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) * directory))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path, write, suffix=""):
    """Calls `write(tmp_path)`, then renames `tmp_path` to `path` in one step.

    Readers (and a later run) see either the previous complete file or the
    new complete file, never a half-written one: a crash or a `SIGKILL`
    during `write` leaves `path` untouched (at worst a hidden `.<name>.tmp-*`
    file stays behind), and an exception in `write` removes the temporary
    file and propagates.

    Args:
        path: final path.
        write: callable writing the whole file to the path it is given.
        suffix: extension the temporary path must end with.

    Returns:
        `path`.
    """
    path = os.fspath(path)
    tmp = temporary_path(path, suffix)
    try:
        write(tmp)
        if not os.path.isfile(tmp):
            raise RuntimeError(f"The writer did not create the file {tmp!r}.")
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    _fsync(os.path.dirname(os.path.abspath(path)), directory=True)
    return path


def remove_temporaries(folder):
    """Removes the leftovers of interrupted `atomic_write`s in `folder`.

    Returns the names removed. Only call this on a folder no other process
    is writing to.
    """
    removed = []
    if not os.path.isdir(folder):
        return removed
    for entry in os.scandir(folder):
        if entry.name.startswith(".") and TMP_MARKER in entry.name and entry.is_file():
            try:
                os.remove(entry.path)
                removed.append(entry.name)
            except OSError:
                pass
    return sorted(removed)
