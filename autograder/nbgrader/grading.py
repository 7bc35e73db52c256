"""The boundary to the kit's sandboxed grader: `cnnkit grade SUBMISSION --json OUT`.

`grade_submission(folder, phases)` runs the grader on those phases in a subprocess and returns
its JSON result, checked against the phases table. `grading_copy` builds the folder it grades: the assignment's
`scratchcnn/` package from the course's source folder, with only the student's task files
(`STUDENT_FILES`) and Phase 9's trained model (`SUBMITTED_MODEL`) taken from the submission — so
nothing else a student hands in (a `numpy.py`, a `conftest.py`, a `sitecustomize.py`, extra
modules) is ever on the grader's path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from cnnkit.phases import PHASES, SUBMITTED_MODEL, Phase

PACKAGE = "scratchcnn"
# The files a student writes, relative to the assignment folder, in phase order.
STUDENT_FILES: tuple[str, ...] = tuple(
    dict.fromkeys(f"{PACKAGE}/{file}" for phase in PHASES for file in phase.files))
STATUSES = frozenset({"passed", "partial", "failed", "not_started", "error", "timeout"})
RESULTS_DIRECTORY = "cnnkit_grades"  # in the course root: instructor-only, never copied to feedback
# Generous: Phase 9 trains a network inside the sandbox; the grader enforces its own limits.
DEFAULT_TIMEOUT = 3600.0


class GraderError(RuntimeError):
    """The grader failed or returned something that doesn't match the phases table."""


def default_grader_command() -> list[str]:
    """`cnnkit grade`, from the environment that runs nbgrader (the kit's console script)."""
    script = Path(sys.executable).with_name("cnnkit")
    found = str(script) if script.is_file() else shutil.which("cnnkit")
    if found is None:
        raise GraderError("the `cnnkit` command is not installed in this environment "
                          f"(looked next to {sys.executable} and on PATH)")
    return [found, "grade"]


def grade_submission(folder: str | os.PathLike, phases: Sequence[Phase] = PHASES,
                     command: Sequence[str] | None = None,
                     timeout: float = DEFAULT_TIMEOUT) -> dict:
    """Grade `phases` of the submission `folder` (it holds `scratchcnn/`) with
    `command FOLDER --json OUT --phases N,...`.

    Returns the grader's JSON, checked by `check_result`. Raises GraderError when the grader
    writes no result: a failed grading must never look like a score.
    """
    folder = Path(folder)
    if not (folder / PACKAGE).is_dir():
        raise GraderError(f"folder must hold {PACKAGE}/ (got {folder})")
    command = list(command) if command else default_grader_command()
    with tempfile.TemporaryDirectory(prefix="cnnkit-grade-") as tmp:
        out = Path(tmp) / "result.json"
        try:
            numbers = ",".join(str(p.number) for p in phases)
            proc = subprocess.run([*command, str(folder), "--json", str(out), "--phases", numbers],
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise GraderError(f"grader did not finish within {timeout:g} s: {command}") from None
        if not out.is_file():
            raise GraderError(f"grader wrote no result (exit code {proc.returncode}): "
                              f"{' '.join(command)}\n{proc.stderr[-2000:]}")
        try:
            result = json.loads(out.read_text())
        except json.JSONDecodeError as err:
            raise GraderError(f"grader result is not JSON: {err}") from None
    return check_result(result, phases)


def check_result(result: dict, phases: Sequence[Phase] = PHASES) -> dict:
    """Check that a grader result has one entry per phase of `phases`, with its points.

    A mismatch means the grader and this course disagree on the phases table: refuse to record
    anything rather than put a score in the wrong column.
    """
    if not isinstance(result, dict) or not isinstance(result.get("phases"), list):
        raise GraderError(f"grader result must be an object with a 'phases' list "
                          f"(got {type(result).__name__})")
    by_number = {entry.get("phase"): entry for entry in result["phases"]}
    numbers = [p.number for p in phases]
    if sorted(by_number) != numbers or len(result["phases"]) != len(phases):
        raise GraderError(f"grader result must have phases {numbers} once "
                          f"each (got {[e.get('phase') for e in result['phases']]})")
    for phase in phases:
        entry = by_number[phase.number]
        score, max_score = entry.get("score"), entry.get("max_score")
        if max_score != phase.points:
            raise GraderError(f"phase {phase.number} max_score must be {phase.points:g} "
                              f"(got {max_score!r})")
        if not isinstance(score, (int, float)) or not 0 <= score <= max_score:
            raise GraderError(f"phase {phase.number} score must be in [0, {max_score:g}] "
                              f"(got {score!r})")
        if entry.get("status") not in STATUSES:
            raise GraderError(f"phase {phase.number} status must be one of {sorted(STATUSES)} "
                              f"(got {entry.get('status')!r})")
    return result


def cell_points(phase: Phase) -> float:
    """A phase's points in the notebook: bonus phases are worth 0 there (their score is extra
    credit, which nbgrader adds on top of the assignment's maximum)."""
    return 0.0 if phase.bonus else phase.points


def phase_scores(result: dict) -> dict[str, float]:
    """{phase name: score} from a checked grader result."""
    return {entry["name"]: float(entry["score"]) for entry in result["phases"]}


def grading_copy(submission: Path, source: Path, dest: Path) -> Path:
    """Write into `dest` the package to grade; returns `dest` (the folder holding scratchcnn/).

    `source` is the assignment's source folder (the stubs the course released), `submission`
    the student's folder. Every file of the source package comes from `source`, except the task
    files, which come from `submission` when it has them as regular files (a missing file or a
    symlink counts as not handed in: the stub is graded).
    """
    package = source / PACKAGE
    if not package.is_dir():
        raise GraderError(f"source must hold {PACKAGE}/ (got {source})")
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(source).as_posix()
        handed_in = submission / relative
        use = handed_in if (relative in STUDENT_FILES and handed_in.is_file()
                            and not handed_in.is_symlink()) else path
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(use, target)
    model = submission / SUBMITTED_MODEL  # Phase 9's trained model, read by the grader only
    if model.is_file() and not model.is_symlink():
        shutil.copyfile(model, dest / SUBMITTED_MODEL)
    return dest
