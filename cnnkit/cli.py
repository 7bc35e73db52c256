"""The `cnnkit` command: one subcommand per job (`cnnkit --help` lists them)."""

from __future__ import annotations

import argparse
import sys

from . import audit, bench, check, compare, handin, release, train
from .autograder import batch, grade, gradescope_zip
from .autograder.nbgrader import cli as nbgrader_cli
from .data import cli as data_cli

COMMANDS = (check, compare, handin, release, train, bench, grade, batch, gradescope_zip,
            nbgrader_cli, data_cli, audit)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cnnkit", description="CNN from scratch: pooling and strides — the course kit")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as err:
        print(f"cnnkit {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
