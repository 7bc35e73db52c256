"""The instructor's command sequence, as nbgrader commands run in the course folder.

Each step is the real `nbgrader` command (`python -m nbgrader ...` of this environment) run with
the course folder as working directory, so it reads the course's nbgrader_config.py exactly as
an instructor's shell would.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence


class NbgraderError(RuntimeError):
    """An nbgrader command failed."""


@dataclass
class Step:
    args: list[str]
    returncode: int
    output: str


def tool_path() -> str:
    """PATH with this environment's scripts first: nbgrader's gradebook runs `alembic` by name,
    which fails when the kit's virtualenv is used without being activated."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def nbgrader(course: Path, *args: str, check: bool = True) -> Step:
    """Run `nbgrader ARGS` in `course`; raises NbgraderError when `check` and it fails."""
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course,
                          capture_output=True, text=True, env={**os.environ, "PATH": tool_path()})
    step = Step(list(args), proc.returncode, proc.stdout + proc.stderr)
    if check and proc.returncode != 0:
        raise NbgraderError(f"`nbgrader {' '.join(args)}` failed (exit code {proc.returncode}):"
                            f"\n{step.output[-4000:]}")
    return step


def add_students(course: Path, students: Sequence[str]) -> None:
    """Add students by id to the gradebook (one `nbgrader db student import`)."""
    if not students:
        return
    with tempfile.NamedTemporaryFile("w", suffix=".csv", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id"])
        writer.writerows([student] for student in students)
        fh.flush()
        nbgrader(course, "db", "student", "import", fh.name)


def release(course: Path, assignment: str) -> None:
    """generate_assignment then release_assignment (to the exchange)."""
    nbgrader(course, "generate_assignment", assignment, "--force")
    nbgrader(course, "release_assignment", assignment, "--force")


def grade(course: Path, assignment: str, csv: Path | None = None, zip_collect: bool = False,
          release_feedback: bool = False) -> list[Step]:
    """Collect, autograde (phase scores from the kit's grader), feedback, export.

    Runs every step even if autograde failed for some students (their phases stay empty in the
    CSV); raises NbgraderError at the end when any step failed.
    """
    collect = ["zip_collect", assignment, "--force"] if zip_collect else \
        ["collect", assignment, "--update"]
    steps = [
        collect,
        ["autograde", assignment, "--force"],
        ["generate_feedback", assignment, "--force"],
        *([["release_feedback", assignment]] if release_feedback else []),
        ["export", f"--to={csv or course / 'grades.csv'}", f"--assignment=[{assignment!r}]"],
    ]
    done = [nbgrader(course, *args, check=False) for args in steps]
    failed = [step for step in done if step.returncode != 0]
    if failed:
        raise NbgraderError("\n\n".join(
            f"`nbgrader {' '.join(step.args)}` failed (exit code {step.returncode}):\n"
            f"{step.output[-4000:]}" for step in failed))
    return done
