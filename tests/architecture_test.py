"""The shape of the package: imports point down the stack, no cycles, short
application functions, and no method names outside the recipes.

Every import is read from the source with `ast` (function-local imports
included), so the rules hold whatever happens to be imported at run time.
"""

import ast
import pathlib

import pytest

import keras_ssl

PACKAGE_DIR = pathlib.Path(keras_ssl.__file__).parent

#: The stack, bottom first. A module may import from its own level or below.
LEVELS = {
    # leaves
    "version": 0,
    "checks": 0,
    "schedules": 0,
    "compat": 0,
    "atomic_io": 0,
    "cross_replica": 0,
    "distribute": 0,
    "testing": 0,
    # components
    "layers": 1,
    "losses": 1,
    "augmentation": 1,
    "metrics": 1,
    "encoders": 1,
    "tokenizers": 1,
    "datasets": 1,
    # the training contract and one file per method
    "models": 2,
    # consume a model
    "evaluation": 3,
    "callbacks": 4,
    "export": 5,
    "visualization": 5,
    # one file per method: defaults, data stream, panel, search space
    "recipes": 6,
    # keras-tuner search (optional dependency)
    "tuning": 7,
    # the package's public face: every library package, never the application
    "__init__": 7,
    # the application and its deprecated aliases
    "app": 8,
    "workflows": 8,
    "cli": 8,
}
APPLICATION = {"app", "workflows", "cli"}

#: (importing module, imported module): the deliberate exceptions.
ALLOWED = {
    # `RunCheckpoint.fit` is a deprecated alias of the application's
    # exact-resume driver (a function-local import).
    ("keras_ssl.callbacks.run_checkpoint", "keras_ssl.app.resume"),
}

MAX_APPLICATION_FUNCTION_LINES = 80


def _modules():
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        relative = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
        parts = list(relative.parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        yield ".".join(parts), path, is_package


MODULES = {name: (path, is_package) for name, path, is_package in _modules()}


def _resolve(module, node, is_package):
    """The keras_ssl modules one import statement reads."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative import
        base = module.split(".")
        base = base if is_package else base[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module
    names = []
    for alias in node.names:
        candidate = f"{prefix}.{alias.name}"
        names.append(candidate if candidate in MODULES else prefix)
    return names


def _imports():
    """`(importer, imported, line)` for every keras_ssl-internal import."""
    found = []
    for module, (path, is_package) in MODULES.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for imported in _resolve(module, node, is_package):
                if imported == "keras_ssl" or imported.startswith("keras_ssl."):
                    found.append((module, imported, node.lineno))
    return found


IMPORTS = _imports()


def _package(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_package_has_a_level():
    packages = {_package(module) for module in MODULES}
    assert packages - set(LEVELS) == set(), (
        "new top-level modules need a level in LEVELS"
    )


def _upward(imports):
    upward = []
    for importer, imported, line in imports:
        if (importer, imported) in ALLOWED:
            continue
        source, target = _package(importer), _package(imported)
        if source == target:
            continue
        if LEVELS[target] > LEVELS[source] or (
            target == "__init__" and source != "__init__"
        ):
            upward.append(f"{importer}:{line} imports {imported}")
    return upward


def test_imports_point_down_the_stack():
    assert _upward(IMPORTS) == []


def test_the_library_never_imports_the_application():
    offending = [
        f"{importer}:{line} imports {imported}"
        for importer, imported, line in IMPORTS
        if _package(importer) not in APPLICATION
        and _package(imported) in APPLICATION
        and (importer, imported) not in ALLOWED
    ]
    assert offending == []


def _cycles(imports):
    graph = {}
    for importer, imported, _ in imports:
        if (importer, imported) in ALLOWED:
            continue
        source, target = _package(importer), _package(imported)
        if source != target and "__init__" not in (source, target):
            graph.setdefault(source, set()).add(target)
    cycles = []

    def visit(node, stack):
        for nxt in sorted(graph.get(node, ())):
            if nxt in stack:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            else:
                visit(nxt, [*stack, nxt])

    for start in sorted(graph):
        visit(start, [start])
    return cycles


def test_no_import_cycle_between_packages():
    assert _cycles(IMPORTS) == []


def _functions(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _code_lines(node):
    """Lines of a function without its docstring."""
    lines = node.end_lineno - node.lineno + 1
    body = node.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        lines -= body[0].end_lineno - body[0].lineno + 1
    return lines


def test_application_functions_are_short():
    long = []
    for module, (path, _) in MODULES.items():
        if _package(module) not in APPLICATION:
            continue
        for node in _functions(path):
            lines = _code_lines(node)
            if lines > MAX_APPLICATION_FUNCTION_LINES:
                long.append(f"{module}.{node.name}: {lines} lines")
    assert long == []


def _model_class_names():
    init = PACKAGE_DIR / "models" / "__init__.py"
    tree = ast.parse(init.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
    return {name for name in names if name[:1].isupper()} - {"SSLModel"}


@pytest.mark.parametrize(
    "prefix",
    [
        "keras_ssl.app",
        "keras_ssl.tuning",
        "keras_ssl.evaluation",
        # The panel callbacks check the one model class they draw (input
        # validation); the function that picks a panel must not dispatch on it.
        "keras_ssl.callbacks.monitoring_callbacks",
    ],
)
def test_no_method_branches_outside_the_recipes(prefix):
    """No `method == "simclr"` and no isinstance on a method's model class."""
    model_classes = _model_class_names()
    found = []
    for module, (path, _) in MODULES.items():
        if module != prefix and not module.startswith(prefix + "."):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                named = any(isinstance(s, ast.Name) and s.id == "method" for s in sides)
                literal = any(
                    isinstance(s, ast.Constant) and isinstance(s.value, str)
                    for s in sides
                )
                if named and literal:
                    found.append(f"{module}:{node.lineno} compares `method`")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "isinstance"
                and len(node.args) == 2
            ):
                names = {
                    n.id if isinstance(n, ast.Name) else n.attr
                    for n in ast.walk(node.args[1])
                    if isinstance(n, ast.Name | ast.Attribute)
                }
                if names & model_classes:
                    found.append(f"{module}:{node.lineno} isinstance on a method")
    assert found == []


def test_no_reference_to_files_outside_the_repository():
    mentions = [
        str(path.relative_to(PACKAGE_DIR.parent))
        for path in PACKAGE_DIR.rglob("*.py")
        if "DESIGN" in path.read_text()
    ]
    assert mentions == []


def test_private_keras_api_only_in_compat():
    offending = []
    for module, (path, _) in MODULES.items():
        if module == "keras_ssl.compat":
            continue
        text = path.read_text()
        for token in ("keras.src", "._flatten_layers", "._initial_epoch"):
            if token in text:
                offending.append(f"{module} uses {token}")
    assert offending == []


def test_the_checks_catch_what_they_are_for():
    """The checkers themselves, on made-up imports."""
    node = ast.parse("from keras_ssl.app import pretrain").body[0]
    (imported,) = _resolve("keras_ssl.losses.fake", node, False)
    assert imported.startswith("keras_ssl.app")
    assert _upward([("keras_ssl.losses.fake", imported, 1)]) == [
        f"keras_ssl.losses.fake:1 imports {imported}"
    ]
    assert _upward([("keras_ssl.app.fake", "keras_ssl.losses", 1)]) == []
    assert _upward([("keras_ssl.models.fake", "keras_ssl", 1)]) != []
    made_up = [
        ("keras_ssl.evaluation.a", "keras_ssl.callbacks.b", 1),
        ("keras_ssl.callbacks.b", "keras_ssl.evaluation.c", 1),
    ]
    assert _cycles(made_up) != []
    assert _cycles(made_up[:1]) == []
