"""Writes the README's CLI reference: `keras-ssl <command> --help` for each.

Run `python scripts/cli_reference.py` after changing a flag; the test
`tests/cli_reference_test.py` fails while the README is out of date.
"""

import contextlib
import io
import os
import sys

START = "<!-- cli-reference:start (scripts/cli_reference.py writes this) -->"
END = "<!-- cli-reference:end -->"
WIDTH = "88"  # argparse wraps help text to $COLUMNS


def help_text(argv):
    from keras_ssl.app.cli import main

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            try:
                main([*argv, "--help"])
            except SystemExit:
                pass
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    return out.getvalue().rstrip()


def commands():
    from keras_ssl.app.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return list(sub.choices)


def reference():
    parts = [START, "", "```text", "$ keras-ssl --help", help_text([]), "```"]
    for command in commands():
        parts += [
            "",
            f"<details><summary><code>keras-ssl {command} --help</code></summary>",
            "",
            "```text",
            help_text([command]),
            "```",
            "",
            "</details>",
        ]
    return "\n".join([*parts, "", END])


def updated_readme(text):
    if START not in text or END not in text:
        raise ValueError(f"README.md lacks the markers {START!r} and {END!r}")
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    return head + reference() + tail


def main():
    path = os.path.join(os.path.dirname(__file__), "..", "README.md")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    new = updated_readme(text)
    if new != text:
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)
        print("README.md: CLI reference updated")
    else:
        print("README.md: CLI reference already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
