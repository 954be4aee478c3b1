"""Where the embedded datasets are looked for, shared by their loaders."""

import os


def candidate_dirs(data_dir, env_var, default_dirs):
    """Returns `(description, directory)` pairs in search order.

    The order is: the explicit `data_dir`, the environment variable, then the
    default locations. An unset environment variable is still listed (with no
    directory) so that error messages can say it was consulted.
    """
    candidates = []
    if data_dir is not None:
        candidates.append((f"data_dir={os.fspath(data_dir)!r}", os.fspath(data_dir)))
    env_value = os.environ.get(env_var)
    if env_value:
        candidates.append((f"${env_var}={env_value!r}", env_value))
    else:
        candidates.append((f"${env_var} (not set)", None))
    for directory in default_dirs:
        directory = os.path.expanduser(directory)
        candidates.append((directory, directory))
    return candidates


def searched_list(candidates):
    """Formats the searched places as an indented bullet list."""
    return "\n".join(f"  - {description}" for description, _ in candidates)


DOWNLOAD_ENV_VAR = "KERAS_SSL_ALLOW_DOWNLOAD"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def download_allowed(download):
    """Whether a loader may fetch data from the network.

    Nothing is downloaded unless the user asks: `download=True`, or
    `download=None` with the environment variable `KERAS_SSL_ALLOW_DOWNLOAD`
    set to `1`/`true`/`yes`/`on` (the way to ask from the command line).
    """
    if download is None:
        value = os.environ.get(DOWNLOAD_ENV_VAR, "").strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ValueError(
            f"Environment variable `{DOWNLOAD_ENV_VAR}` must be one of "
            f"{list(_TRUE + _FALSE[1:])} or unset. Received: "
            f"{DOWNLOAD_ENV_VAR}={os.environ[DOWNLOAD_ENV_VAR]!r}"
        )
    if not isinstance(download, bool):
        raise ValueError(
            "Argument `download` must be True, False or None (None: ask the "
            f"environment variable {DOWNLOAD_ENV_VAR}). "
            f"Received: download={download!r}"
        )
    return download
