"""Configuration files for the command line: JSON or YAML option values.

A config file holds the options of one subcommand, keyed like its flags
(`batch_size` or `batch-size`). Values are checked against the flag they
stand for (type, choices) so a typo or a wrong type is one clear error, and
options given on the command line override the file.
"""

import argparse
import difflib
import json
import os

# Flags that describe how to run, not what to run: never read from a file.
_NOT_CONFIGURABLE = ("config", "dry_run", "debug", "help")


def load_config_file(path):
    """Reads a JSON (`.json`) or YAML (`.yaml`, `.yml`) mapping of options."""
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Argument `--config` must be an existing JSON or YAML file. "
            f"Received: --config={path!r} (no such file)"
        )
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".json", ".yaml", ".yml"):
        raise ValueError(
            "Argument `--config` must end in .json, .yaml or .yml. "
            f"Received: --config={path!r}"
        )
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        if ext == ".json":
            values = json.loads(text)
        else:
            import yaml

            values = yaml.safe_load(text)
    except Exception as e:  # json.JSONDecodeError or yaml.YAMLError
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(
            f"Argument `--config` must be a valid {ext[1:].upper()} file. "
            f"Received: --config={path!r} ({first})"
        ) from None
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ValueError(
            "Argument `--config` must hold a mapping of option names to values. "
            f"Received: --config={path!r} holding a {type(values).__name__}"
        )
    return values


def _check_value(flag, action, value):
    if isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction):
        if not isinstance(value, bool):
            raise ValueError(
                f"Config option `{flag}` must be true or false. Received: {value!r}"
            )
        return value
    if value is None:
        return None
    if action.nargs == "?" and isinstance(value, bool):
        return value  # e.g. `resume: true` for `--resume [RUN_DIR]`
    if flag == "model_kwargs" and isinstance(value, dict):
        return json.dumps(value)  # the flag takes the JSON text
    kind = action.type
    if isinstance(value, str) and kind not in (None, str):
        try:
            value = kind(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"Config option `{flag}` must be "
                f"{'an integer' if kind is int else 'a number'}. Received: {value!r}"
            ) from None
    elif kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(
            f"Config option `{flag}` must be an integer. Received: {value!r}"
        )
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(
                f"Config option `{flag}` must be a number. Received: {value!r}"
            )
        value = float(value)
    elif kind in (None, str) and not isinstance(value, str):
        if isinstance(value, bool | dict | list):
            raise ValueError(
                f"Config option `{flag}` must be a string. Received: {value!r}"
            )
        value = str(value)  # e.g. `version: 3` for a str flag
    if action.choices is not None and value not in action.choices:
        raise ValueError(
            f"Config option `{flag}` must be one of {list(action.choices)}. "
            f"Received: {value!r}"
        )
    return value


def apply_config(parser, command, values):
    """Makes `values` the defaults of `parser` (one subcommand's parser).

    Raises a `ValueError` naming any unknown key (with the closest known
    one) or any value of the wrong type.
    """
    actions = {
        a.dest: a
        for a in parser._actions
        if a.dest not in _NOT_CONFIGURABLE and a.dest != argparse.SUPPRESS
    }
    defaults = {}
    for key, value in values.items():
        dest = str(key).replace("-", "_")
        if dest not in actions:
            close = difflib.get_close_matches(dest, list(actions), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"Unknown option in `--config` for `keras-ssl {command}`. "
                f"Received: {key!r}. Expected some of {sorted(actions)}.{hint}"
            )
        defaults[dest] = _check_value(dest, actions[dest], value)
    # Required flags given by the file are no longer required on the line.
    for dest in defaults:
        actions[dest].required = False
    parser.set_defaults(**defaults)
    return defaults


def resolved_options(args):
    """The options a run will use, as a JSON-ready dict."""
    skip = ("config", "dry_run", "debug")
    return {k: v for k, v in sorted(vars(args).items()) if k not in skip}
