"""Write an export into the TF Serving layout `base_dir/name/version/`."""

import numbers
import os
import shutil
import uuid

from keras_ssl.export._checks import check_path_name, check_writable_dir


def _check_name(name):
    check_path_name(name, "name")


def _check_version(version):
    if isinstance(version, str) and version == "auto":
        return
    if (
        isinstance(version, numbers.Integral)
        and not isinstance(version, bool)
        and version > 0
    ):
        return
    raise ValueError(
        "Argument `version` must be a positive int or 'auto' (the next "
        f"integer after the largest existing version). Received: version={version!r}"
    )


def _existing_versions(model_dir):
    if not os.path.isdir(model_dir):
        return []
    return [
        int(entry.name)
        for entry in os.scandir(model_dir)
        if entry.name.isascii() and entry.name.isdigit() and entry.is_dir()
    ]


def versioned_export(export_fn, base_dir, name, version="auto", **kwargs):
    """Runs an export into `base_dir/name/version/`, the TF Serving layout.

    TensorFlow Serving watches `base_dir/name/` and serves the numeric
    subfolders as versions of the model `name`. So that it never sees a
    half-written version, `export_fn` writes into a hidden temporary folder
    inside `base_dir/name/` (`.tmp-<version>-<pid>-...`, ignored by TF
    Serving), which is then renamed to the version folder in one step. An
    existing version is never overwritten, and the temporary folder is
    removed if the export fails.

    Args:
        export_fn: the export to run, called as
            `export_fn(export_dir=..., **kwargs)`, e.g. `export_image_encoder`
            or `export_text_encoder`.
        base_dir: the model base path (e.g. `"saved_models"`); created if
            missing.
        name: model name, one folder name of letters, digits, `_`, `.` and
            `-` (not starting with `.` or `-`; no `..`).
        version: positive int, or `"auto"` for the next integer after the
            largest existing numeric version (1 for the first export).
        **kwargs: passed to `export_fn`.

    Returns:
        The path of the new version, `base_dir/name/version`, as a `str`.

    Raises:
        FileExistsError: if the version already exists.
        ValueError: on an invalid argument, or when `base_dir` cannot be
            written to.

    Example (not run as a doctest: an export takes seconds):

    >>> from keras_ssl.export import export_image_encoder  # doctest: +SKIP
    >>> versioned_export(  # doctest: +SKIP
    ...     export_image_encoder, "saved_models", "simclr", encoder=model)
    'saved_models/simclr/1'
    """
    if not callable(export_fn):
        raise ValueError(
            "Argument `export_fn` must be a callable taking `export_dir=` "
            f"(e.g. export_image_encoder). Received: export_fn={export_fn!r}"
        )
    if "export_dir" in kwargs:
        raise ValueError(
            "Argument `export_dir` must not be given: versioned_export chooses "
            f"it. Received: export_dir={kwargs['export_dir']!r}. Expected: "
            "base_dir, name and version."
        )
    if not isinstance(base_dir, str | os.PathLike) or not os.fspath(base_dir):
        raise ValueError(
            "Argument `base_dir` must be a non-empty path (str or "
            f"os.PathLike). Received: base_dir={base_dir!r}"
        )
    base_dir = os.fspath(base_dir)
    if os.path.exists(base_dir) and not os.path.isdir(base_dir):
        raise ValueError(
            "Argument `base_dir` must be a directory (or a path to create). "
            f"Received: base_dir={base_dir!r}, which is an existing file"
        )
    _check_name(name)
    _check_version(version)

    model_dir = os.path.join(base_dir, name)
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise ValueError(
            f"Argument `name` must name a model folder. Received: name={name!r}, "
            f"but {model_dir!r} is an existing file"
        )
    check_writable_dir(base_dir, "base_dir")
    if isinstance(version, str):  # "auto"
        version = max(_existing_versions(model_dir), default=0) + 1
    version = int(version)
    final_dir = os.path.join(model_dir, str(version))
    if os.path.lexists(final_dir):
        raise FileExistsError(
            f"Version {version} of {name!r} already exists at {final_dir!r}; "
            f"exports never overwrite a version. Received: version={version!r}. "
            "Expected version='auto' or a new version number."
        )

    # Not tempfile.mkdtemp: its 0700 mode would survive the rename and hide
    # the version from a TF Serving process running as another user.
    tmp_dir = os.path.join(
        model_dir, f".tmp-{version}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    )
    try:
        os.makedirs(model_dir, exist_ok=True)
        os.mkdir(tmp_dir)
    except OSError as e:
        raise ValueError(
            "Argument `base_dir` must be a folder that can be written to. "
            f"Received: base_dir={base_dir!r} (creating {tmp_dir!r} failed: "
            f"{e.strerror})"
        ) from None
    try:
        export_fn(export_dir=tmp_dir, **kwargs)
        if not os.listdir(tmp_dir):
            raise ValueError(
                "Argument `export_fn` must write the export into `export_dir`. "
                f"Received: export_fn={export_fn!r}, which wrote nothing"
            )
        # Checked again just before the rename: another process may have
        # written this version meanwhile, and renaming onto an existing empty
        # folder would silently replace it.
        if os.path.lexists(final_dir):
            raise FileExistsError(
                f"Version {version} of {name!r} already exists at "
                f"{final_dir!r} (written while this export ran); exports never "
                "overwrite a version."
            )
        os.rename(tmp_dir, final_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return final_dir
