"""The `cnnkit` command: one subcommand per job (`cnnkit --help` lists them)."""

from __future__ import annotations

import argparse
import sys
import warnings

from . import audit, bench, check, compare, handin, release, train
from .autograder import batch, grade, gradescope_zip
from .autograder.nbgrader import cli as nbgrader_cli
from .data import cli as data_cli

COMMANDS = (check, compare, handin, release, train, bench, grade, batch, gradescope_zip,
            nbgrader_cli, data_cli, audit)


def show_note(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line for the user ("cnnkit: note: ..."), not Python's file:line form
    pointing into the kit's own code."""
    print(f"cnnkit: note: {message}", file=file or sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cnnkit", description="CNN from scratch: pooling and strides — the course kit")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    args = parser.parse_args(argv)
    with warnings.catch_warnings():  # restores Python's display when the command returns
        warnings.showwarning = show_note
        try:
            return args.func(args)
        except (FileNotFoundError, ValueError) as err:
            print(f"cnnkit {args.command}: {err}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
