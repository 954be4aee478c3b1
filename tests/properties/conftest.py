"""Keeps Hypothesis' files out of the repository.

Hypothesis writes a cache (and, unless `database=None`, an example
database) under `./.hypothesis`; point it at a temporary folder instead.
"""

import atexit
import shutil
import tempfile

from hypothesis import configuration

_HOME = tempfile.mkdtemp(prefix="keras_ssl-hypothesis-")
configuration.set_hypothesis_home_dir(_HOME)
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
