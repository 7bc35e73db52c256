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

    Every step runs even if an earlier one failed for some students. Autograde runs for the
    class, then once more alone for each collected student it left without an autograded
    notebook, so one student's failure can't cost another their grade (their phases stay
    empty in the CSV, with a note). Raises NbgraderError at the end, naming every failed step.
    """
    collect = ["zip_collect", assignment, "--force"] if zip_collect else \
        ["collect", assignment, "--update"]
    done = [nbgrader(course, *collect, check=False),
            nbgrader(course, "autograde", assignment, "--force", check=False)]
    if done[-1].returncode != 0:
        done += [nbgrader(course, "autograde", assignment, "--student", student, "--force",
                          check=False) for student in not_autograded(course, assignment)]
    done += [nbgrader(course, *args, check=False) for args in [
        ["generate_feedback", assignment, "--force"],
        *([["release_feedback", assignment]] if release_feedback else []),
        ["export", f"--to={csv or course / 'grades.csv'}", f"--assignment=[{assignment!r}]"],
    ]]
    failed = [step for step in done if step.returncode != 0 and not recovered(step, done)]
    if failed:
        raise NbgraderError("\n\n".join(
            f"`nbgrader {' '.join(step.args)}` failed (exit code {step.returncode}):\n"
            f"{step.output[-4000:]}" for step in failed))
    return done


def not_autograded(course: Path, assignment: str) -> list[str]:
    """Students whose collected submission has no autograded notebook (default layout)."""
    return sorted(folder.parent.name for folder in (course / "submitted").glob(f"*/{assignment}")
                  if not list((course / "autograded" / folder.parent.name / assignment)
                              .glob("*.ipynb")))


def recovered(step: Step, done: list[Step]) -> bool:
    """A class-wide autograde that failed is recovered when every per-student rerun passed."""
    reruns = [s for s in done if s.args[:1] == ["autograde"] and "--student" in s.args]
    return (step.args[:1] == ["autograde"] and "--student" not in step.args
            and bool(reruns) and all(s.returncode == 0 for s in reruns))
