"""The course configuration: `cnnkit.toml`, read by the graders (`cnnkit grade`, `grade-all`,
`gradescope` and the nbgrader flow).

    [grading]
    bonus = true    # grade the bonus phases (the guide's extensions) as extra credit

The file is looked up as `--config FILE`, else `cnnkit.toml` in the current folder (the course
folder for nbgrader); without one, the defaults above apply.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

from .phases import PHASES, Phase, phase

CONFIG_NAME = "cnnkit.toml"


@dataclass(frozen=True)
class Grading:
    bonus: bool = True

    @property
    def phases(self) -> tuple[Phase, ...]:
        """The phases this course grades."""
        return tuple(p for p in PHASES if self.bonus or not p.bonus)


def load_grading(path: Path | None = None) -> Grading:
    """The `[grading]` table of `path` (default: ./cnnkit.toml if present), checked."""
    if path is None:
        path = Path(CONFIG_NAME)
        if not path.is_file():
            return Grading()
    try:
        with open(path, "rb") as fh:
            table = tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path} is not valid TOML: {err}") from None
    unknown = set(table) - {"grading"}
    grading = table.get("grading", {})
    known = {f.name: f.type for f in fields(Grading)}
    unknown |= {f"grading.{key}" for key in set(grading) - set(known)}
    if unknown:
        raise ValueError(f"{path}: unknown settings {sorted(unknown)} "
                         f"(known: {['grading.' + k for k in known]})")
    for key, value in grading.items():
        if not isinstance(value, bool):
            raise ValueError(f"{path}: grading.{key} must be true or false (got {value!r})")
    return Grading(**grading)


def add_arguments(parser) -> None:
    """`--config` and `--bonus/--no-bonus`, for every command that grades."""
    parser.add_argument("--config", type=Path,
                        help=f"course configuration (default: ./{CONFIG_NAME} if present)")
    parser.add_argument("--bonus", action="store_true", default=None,
                        help="grade the bonus phases (overrides the configuration)")
    parser.add_argument("--no-bonus", dest="bonus", action="store_false",
                        help="don't grade the bonus phases (overrides the configuration)")


def graded_numbers(args) -> list[int]:
    """The phase numbers to grade: `--phases` if given, else the configuration's phases."""
    if getattr(args, "phases", None):
        return [phase(int(n)).number for n in args.phases.split(",")]
    grading = load_grading(args.config)
    if args.bonus is not None:
        grading = replace(grading, bonus=args.bonus)
    return [p.number for p in grading.phases]
