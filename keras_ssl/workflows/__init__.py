"""Deprecated alias of `keras_ssl.app` (the workflows moved there).

`keras_ssl.workflows.pretrain(...)`, `from keras_ssl.workflows.run_directory
import ...` and the other old names keep working and warn once.
"""

import importlib
import sys
import warnings

from keras_ssl.app import *  # noqa: F401,F403
from keras_ssl.app import __all__  # noqa: F401

warnings.warn(
    "`keras_ssl.workflows` is deprecated: import `keras_ssl.app` instead (same names).",
    DeprecationWarning,
    stacklevel=2,
)

# Old submodule paths (`keras_ssl.workflows.pretrain`, ...) name the new ones.
for _name in (
    "_search_run",
    "demo",
    "evaluate",
    "export",
    "finetune",
    "pretrain",
    "run_directory",
    "tune",
    "tune_pretraining",
):
    sys.modules[f"{__name__}.{_name}"] = importlib.import_module(
        f"keras_ssl.app.{_name}"
    )
del _name
