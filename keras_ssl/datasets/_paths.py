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
