"""`cnnkit grade SUBMISSION`: score one submission phase by phase with the hidden suites.

The grading process runs the hidden suites (autograder/suites, pytest) in a child process of its
own; the suites run the student's code in sandboxed children (see `runner`, `sandbox`). A phase's
score is its points (from the phases table) times the weight of the tests it passed over the
weight of all its tests; bonus phases (the guide's extensions) are extra credit on top of the
core phases' total, and `cnnkit.toml` (see `cnnkit.config`) can switch them off. Nothing a submission does can stop a grade from being written: a
submission that breaks the grader's own child gets "error" for the phases it hit, with a reason.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .. import config
from ..check import is_stubbed
from ..files import write_json_atomic
from ..phases import PHASES, phase, suspects
from .intake import IntakeError, copy_submission
from .runner import run_job
from .sandbox import Limits, die_with_parent, sandbox_status
from .suite import WAITING

SUITES = Path(__file__).with_name("suites")
# Time. Every sandboxed job of one submission ends within BUDGET_SECONDS (a hanging or sleeping
# submission is graded, all phases, in about that long); one phase's job within JOB_SECONDS. With
# half a CPU (Gradescope's default) the reference grades every phase in about 30 s, and with
# Python loops over the output positions of its pooling in about 33 s (benchmarks/
# gradescope_limits.py): the limits leave slow correct code room. A package whose import hangs is
# found once, in IMPORT_SECONDS, for all phases. SUITE_SECONDS per phase covers the suites' own
# work outside the sandbox (computing expected answers, Phase 9's replay and forward passes).
BUDGET_SECONDS, JOB_SECONDS, IMPORT_SECONDS, SUITE_SECONDS = 150.0, 60.0, 20.0, 30.0
# Feedback, the grade's only text a student's code can influence: each test's at most 600
# characters (plugin.MAX_FEEDBACK), of which the code's own words (a builtin exception's name, a
# message) at most 300; and all of a submission's at most this many bytes.
MAX_FEEDBACK_BYTES = 64 * 1024


class SubmissionError(Exception):
    """The submission can't be graded at all (no scratchcnn package)."""


def unpack(submission: Path, workdir: Path) -> Path:
    """The folder holding `scratchcnn/` in a private copy (under workdir) of the submission, a
    folder or a .zip, made by the intake gate (raises IntakeError if it refuses the submission).
    A folder named scratchcnn is the package itself."""
    copy = workdir / "submission"
    copy_submission(submission, copy / "scratchcnn" if submission.name == "scratchcnn" else copy)
    for package in [copy / "scratchcnn", *sorted(copy.glob("*/scratchcnn"))]:
        if (package / "__init__.py").is_file():
            return package.parent
    raise SubmissionError(f"no scratchcnn/__init__.py in {submission.name} (or one folder below)")


def submission_seed(folder: Path) -> int:
    """A seed from the submission's own files (in its private copy): regrading gives the same
    inputs, while two submissions see different random values (feedback reveals no fixed
    hidden answer)."""
    digest = hashlib.sha256()
    for path in sorted((folder / "scratchcnn").rglob("*.py")):
        digest.update(os.fsencode(path.relative_to(folder)) + b"\0" + path.read_bytes())
    return int.from_bytes(digest.digest()[:4], "little")


def run_suites(folder: Path, numbers: list[int], seed: int, job_seconds: float,
               budget_seconds: float) -> list[dict]:
    """Run the hidden suites of `numbers` on the submission in `folder`; one record per test.
    Every sandboxed job ends within `budget_seconds` from now; the suites' own work (the
    reference's answers, bounded by the grader's inputs) comes on top."""
    with tempfile.TemporaryDirectory(prefix="cnnkit-grade-") as scratch:
        report = Path(scratch, "report.jsonl")
        report.touch()
        command = [sys.executable, "-m", "pytest", "-c", str(SUITES / "pytest.ini"),
                   "--rootdir", str(SUITES), "-q", "--no-header", "-p", "no:randomly",
                   *[str(SUITES / f"test_phase{n}.py") for n in numbers
                     if (SUITES / f"test_phase{n}.py").is_file()],
                   "--submission", str(folder), "--grade-report", str(report),
                   "--grade-seed", str(seed), "--job-seconds", str(job_seconds),
                   "--deadline", str(time.time() + budget_seconds)]
        try:
            # One BLAS thread: grading is serial, and batches run one grading per core.
            env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                   "MKL_NUM_THREADS": "1"}
            subprocess.run(command, cwd=scratch, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=env, preexec_fn=die_with_parent,
                           timeout=budget_seconds + len(numbers) * SUITE_SECONDS)
        except subprocess.TimeoutExpired:
            pass  # phases without records are reported as grader errors below
        return [json.loads(line) for line in report.read_text().splitlines()]


def phase_result(number: int, records: list[dict], folder: Path) -> dict:
    p = phase(number)
    tests = [r for r in records if r["phase"] == number]
    if not tests:
        return {**phase_entry(p), "score": 0.0, "status": "error",
                "feedback": "the grader could not run this phase; tell your instructor",
                "tests": []}
    total = sum(t["weight"] for t in tests)
    earned = sum(t["weight"] for t in tests if t["passed"])
    if any(t.get("grader_error") for t in tests):
        status = "error"
    elif earned == total:
        status = "passed"
    elif earned:
        status = "partial"
    elif all(t["not_started"] for t in tests) or (is_stubbed(folder, p) and all(
            t["not_started"] or t["feedback"].startswith(WAITING) for t in tests)):
        status = "not_started"  # its own stubs untouched (its tests may wait on earlier ones)
    elif any(t.get("timed_out") for t in tests):
        status = "timeout"
    else:
        status = "failed"
    first = next((t["feedback"] for t in tests if not t["passed"]), "")
    if status == "not_started" and not first.startswith("not started"):
        first = f"not started: {p.stub_message(p.tasks[0])}"  # its tests waited on a stub
    return {
        **phase_entry(p), "score": round(p.points * earned / total, 2), "status": status,
        "feedback": first,
        "tests": [{"name": t["title"], "score": round(p.points * t["weight"] / total, 2)
                   if t["passed"] else 0.0, "max_score": round(p.points * t["weight"] / total, 2),
                   "passed": t["passed"], "feedback": t["feedback"]} for t in tests],
    }


def import_hangs(folder: Path, numbers: list[int]) -> str | None:
    """Why importing the submission's modules did not finish in IMPORT_SECONDS, or None."""
    modules = sorted({task.split("::")[0].removesuffix(".py") for n in numbers
                      for task in phase(n).tasks})
    result = run_job(folder, [{"id": m, "recipe": "import", "module": m} for m in modules], {},
                     limits=Limits(wall_seconds=IMPORT_SECONDS, cpu_seconds=int(IMPORT_SECONDS)))
    stuck = [m for m, call in result.calls.items() if call.status in ("crashed", "not_run")]
    if result.sandbox.timed_out or (stuck and result.sandbox.signal is not None):
        return (f"importing your scratchcnn ({stuck[0] if stuck else modules[0]}.py) did not "
                f"finish within {IMPORT_SECONDS:g} s: {result.sandbox.describe()}")
    return None


def grade(submission: Path, numbers: list[int] | None = None, job_seconds: float = JOB_SECONDS,
          budget_seconds: float = BUDGET_SECONDS) -> dict:
    """The grade of one submission (folder or .zip) in the documented JSON schema."""
    numbers = numbers or [p.number for p in PHASES]
    with tempfile.TemporaryDirectory(prefix="cnnkit-submission-") as workdir:
        try:
            folder = unpack(Path(submission), Path(workdir))
        except (SubmissionError, IntakeError) as err:
            return unreadable(submission, numbers, str(err))
        try:
            started = time.monotonic()
            hung = import_hangs(folder, numbers)
            if hung:
                return unreadable(submission, numbers, hung, status="timeout")
            records = run_suites(folder, numbers, submission_seed(folder), job_seconds,
                                 budget_seconds - (time.monotonic() - started))
            phases = bounded_feedback(blame_earlier([phase_result(n, records, folder)
                                                     for n in numbers]))
        except Exception as err:  # that student's 0 with a reason, never a crashed batch
            return unreadable(submission, numbers, f"grader error: {err!r}")
    isolation = sorted({r["isolation"] for r in records if "isolation" in r})
    return {"submission": str(submission), **totals(phases), "phases": phases,
            "isolation": isolation or [sandbox_status().level.value]}


LOST_POINTS = ("partial", "failed", "timeout", "error")


def blame_earlier(phases: list[dict]) -> list[dict]:
    """Start a failing phase's feedback by naming the failing earlier phases whose code its tests
    run (the ones its suite does not serve from the reference): fix those first."""
    failing = {p["phase"] for p in phases if p["status"] in LOST_POINTS}
    for p in phases:
        if p["status"] in LOST_POINTS:
            served = importlib.import_module(f"{__package__}.suites.test_phase{p['phase']}").PATCHES
            p["suspects"] = suspects(p["phase"], failing, served)
            p["feedback"] = " ".join(filter(None, (p["suspects"], p["feedback"])))
    return phases


def bounded_feedback(phases: list[dict]) -> list[dict]:
    """The phases with their feedback within MAX_FEEDBACK_BYTES in all, in order: the one
    channel out of the sandbox that a student's code can write text into is a narrow one."""
    left = MAX_FEEDBACK_BYTES
    for item in phases + [t for p in phases for t in p["tests"]]:
        size = len(item["feedback"].encode())
        if size > left:
            item["feedback"] = item["feedback"].encode()[:left].decode(errors="ignore")
        left -= len(item["feedback"].encode())
    return phases


def unreadable(submission, numbers, why, status="error") -> dict:
    phases = [{**phase_entry(phase(n)), "score": 0.0, "status": status, "feedback": why,
               "tests": []} for n in numbers]
    return {"submission": str(submission), **totals(phases), "phases": phases, "isolation": []}


def phase_entry(p) -> dict:
    """What every phase's result starts with: which phase, and what it is worth."""
    return {"phase": p.number, "name": p.name, "title": p.title, "bonus": p.bonus,
            "max_score": p.points}


def totals(phases: list[dict]) -> dict:
    """The total, out of the core phases' points; bonus points are extra credit on top."""
    return {"total": round(sum(p["score"] for p in phases), 2),
            "max_total": sum(p["max_score"] for p in phases if not p["bonus"]),
            "bonus_max": sum(p["max_score"] for p in phases if p["bonus"])}


def total_line(result: dict) -> str:
    """"82.5 of 100 points (bonus: up to 20 more)": bonus points are extra credit."""
    if not result["max_total"]:  # only bonus phases graded
        return f"{result['total']:g} of {result['bonus_max']:g} extra-credit points"
    bonus = f" (bonus: up to {result['bonus_max']:g} more)" if result["bonus_max"] else ""
    return f"{result['total']:g} of {result['max_total']:g} points{bonus}"


def gradescope_results(result: dict) -> dict:
    """Gradescope's results.json: one test per phase, its feedback as the test's output."""
    return {
        "score": result["total"],
        "output": f"cnnkit grade: {total_line(result)}.",
        "tests": [{
            "name": f"{phase(p['phase']).label}: {p['title']}",
            "number": str(p["phase"]),
            "score": p["score"], "max_score": p["max_score"],
            "status": "passed" if p["status"] == "passed" else "failed",
            "output": "\n".join([*filter(None, [p.get("suspects")]), *(
                f"{'PASS' if t['passed'] else 'FAIL'} {t['name']}"
                + (f"\n     {t['feedback']}" if t["feedback"] else "") for t in p["tests"])])
            or p["feedback"],
            "visibility": "visible",
        } for p in result["phases"]],
    }


STATUS_STYLE = {"passed": "green", "partial": "yellow", "not_started": "yellow",
                "failed": "red", "error": "red", "timeout": "red"}


def print_report(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"grade of {result['submission']}", title_justify="left")
    for column in ("phase", "what", "status", "score"):
        table.add_column(column)
    for p in result["phases"]:
        table.add_row(str(p["phase"]), p["title"] + (" (bonus)" if p["bonus"] else ""),
                      f"[{STATUS_STYLE[p['status']]}]{p['status'].replace('_', ' ')}[/]",
                      f"{p['score']:g} / {p['max_score']:g}")
    console.print(table)
    for p in result["phases"]:
        if p["status"] not in ("passed", "not_started") and p["feedback"]:
            console.print(f"[bold]{phase(p['phase']).label}[/] {p['feedback']}", highlight=False,
                          soft_wrap=True)
    console.print(f"total {total_line(result)} (isolation: {', '.join(result['isolation'])})")


def register(subparsers) -> None:
    parser = subparsers.add_parser("grade", help="grade a submission with the hidden suites")
    parser.add_argument("submission", type=Path, help="a folder holding scratchcnn/, or a .zip")
    parser.add_argument("--phases", help="comma-separated phase numbers "
                        "(default: the configuration's; every phase, bonus included)")
    config.add_arguments(parser)
    parser.add_argument("--json", type=Path, help="write the grade as JSON here")
    parser.add_argument("--gradescope", type=Path, help="write Gradescope's results.json here")
    add_time_arguments(parser)
    parser.set_defaults(func=run)


def add_time_arguments(parser) -> None:
    """--job-seconds and --budget-seconds, for grade and grade-all."""
    parser.add_argument("--job-seconds", type=float, default=JOB_SECONDS,
                        help="wall-clock limit of one phase's sandboxed run")
    parser.add_argument("--budget-seconds", type=float, default=BUDGET_SECONDS,
                        help="wall-clock limit of all of a submission's sandboxed runs")


def run(args) -> int:
    result = grade(args.submission, config.graded_numbers(args), args.job_seconds,
                   args.budget_seconds)
    print_report(result)
    if args.json:
        write_json_atomic(args.json, result)
    if args.gradescope:
        write_json_atomic(args.gradescope, gradescope_results(result))
    return 0
