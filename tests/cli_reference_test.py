"""The README's CLI reference matches `keras-ssl <command> --help`."""

import importlib.util
import os

ROOT = os.path.join(os.path.dirname(__file__), "..")


def load_script():
    path = os.path.join(ROOT, "scripts", "cli_reference.py")
    spec = importlib.util.spec_from_file_location("cli_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_cli_reference_is_current():
    script = load_script()
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert script.updated_readme(readme) == readme, (
        "README's CLI reference is out of date: run "
        "`.venv/bin/python scripts/cli_reference.py`"
    )


def test_reference_covers_every_subcommand():
    script = load_script()
    text = script.reference()
    for command in script.commands():
        assert f"keras-ssl {command} --help" in text
        assert f"usage: keras-ssl {command}" in text
