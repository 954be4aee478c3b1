import os
import subprocess
import sys
import textwrap

import pytest

import keras_ssl  # noqa: F401  (pins the TensorFlow backend before keras)

# Put before every script run by `fresh_python`: these modules are made
# unimportable, so the reload cannot lean on them (as in TF Serving).
_BLOCK = """
import sys as _sys

for _name in {blocked!r}:
    _sys.modules[_name] = None  # `import name` now raises ImportError.
"""

ALWAYS_BLOCKED = ("keras_ssl", "keras_hub")


def _run_fresh_python(script, cwd, blocked=ALWAYS_BLOCKED):
    """Runs `script` in a new interpreter; fails the test on a non-zero exit.

    The modules in `blocked` cannot be imported by the script (nor by
    anything it imports).
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env.pop("PYTHONPATH", None)
    prelude = _BLOCK.format(blocked=tuple(blocked))
    result = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (
        f"fresh python failed (rc={result.returncode}):\n{result.stderr[-4000:]}"
    )
    return result


@pytest.fixture(scope="module")
def fresh_python():
    return _run_fresh_python


# Defines `non_core_ops(export_dir, signature)` in a fresh-python script: it
# walks the functions reachable from a signature in saved_model.pb and lists
# the op types not registered in core TensorFlow (call it before importing
# tensorflow_text).
_NON_CORE_OPS = """
import os

from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry


def non_core_ops(export_dir, signature):
    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as f:
        saved.ParseFromString(f.read())
    graph = saved.meta_graphs[0].graph_def
    library = {f.signature.name: f for f in graph.library.function}
    outputs = saved.meta_graphs[0].signature_def[signature].outputs
    wanted = {t.name.split(":")[0] for t in outputs.values()}
    seen, ops = set(), set()

    def visit_nodes(nodes):
        for node in nodes:
            ops.add(node.op)
            names = [node.op] + [
                f.name
                for attr in node.attr.values()
                for f in ([attr.func] if attr.HasField("func") else [])
                + list(attr.list.func)
            ]
            for name in names:
                if name in library and name not in seen:
                    seen.add(name)
                    visit_nodes(library[name].node_def)

    visit_nodes(n for n in graph.node if n.name in wanted)
    assert ops, f"no ops found for signature {signature!r}"
    return sorted(
        op for op in ops if op not in library and op_def_registry.get(op) is None
    )
"""


@pytest.fixture(scope="module")
def non_core_ops_snippet():
    return _NON_CORE_OPS
