"""`cnnkit check [PHASE ...]`: the public tests, phase by phase, as a table.

Runs the release's public tests (assignments/tests) in a child pytest process against an
implementation (`--impl`), then reports for each phase: status (not started / failing / passing),
public tests passed out of all of the phase's, what the phase is worth at grading, and the first
failure in plain words with the line of the student's code it came from. Passing public tests
is not a grade: the footer says what the grader checks beyond them. With Phase 9 checked, it
also looks at the hand-in's model.npz as the grader will (`cnnkit.submission`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .paths import KIT_ROOT, resolve_impl
from .phases import PHASES, Phase, phase, suspects
from .submission import find_model, inspect_model

PUBLIC_TESTS = KIT_ROOT / "assignments" / "tests"
PER_TEST_TIMEOUT = 120  # seconds; a student's infinite loop fails one test, not the whole check


@dataclass
class PhaseResult:
    phase: Phase
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    not_implemented: int = 0
    first_failure: str = ""
    where: str = ""  # the student's line the first failure came from, if it came from their code
    first_skip: str = ""
    stubbed: bool = False  # every task of the phase still holds its generated stub
    import_error: bool = False  # its tests could not even be collected
    suspects: str = ""  # the failing earlier phases whose code its tests run (`phases.suspects`)

    @property
    def status(self) -> str:
        if self.import_error:
            return "does not import"
        if self.passed == 0 and self.failed == self.not_implemented and (self.failed or self.stubbed):
            return "not started"
        if self.passed + self.failed == 0:
            return "waiting"  # every test needs an earlier phase first
        return "passing" if self.failed == 0 else "failing"


def run_public_tests(impl: Path, phases: list[Phase], tests: Path = PUBLIC_TESTS) -> list[dict]:
    """Run the public tests of `phases` on the implementation in `impl`; one record per test."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.jsonl"
        report.touch()
        marker = " or ".join(p.marker for p in phases)
        env = {**os.environ, "SCRATCHCNN_IMPL": str(impl), "CNNKIT_CHECK_REPORT": str(report)}
        command = [sys.executable, "-m", "pytest", str(tests), "-m", marker, "-q", "--no-header",
                   "-p", "cnnkit.check_plugin", "-p", "no:cacheprovider",
                   "--timeout", str(PER_TEST_TIMEOUT), "--rootdir", str(tests)]
        subprocess.run(command, env=env, cwd=scratch, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        return [json.loads(line) for line in report.read_text().splitlines()]


def is_stubbed(impl: Path, phase: Phase) -> bool:
    """True if every task of `phase` still raises its generated NotImplementedError."""
    for task in phase.tasks:
        source = impl / "scratchcnn" / task.split("::")[0]
        if not source.is_file() or repr(phase.stub_message(task)) not in source.read_text():
            return False
    return True


def summarise(records: list[dict], phases: list[Phase], impl: Path) -> list[PhaseResult]:
    results = {p.number: PhaseResult(p, stubbed=is_stubbed(impl, p)) for p in phases}
    for record in records:
        for number in record["phases"]:
            if number not in results:
                continue
            result = results[number]
            if record["outcome"] == "passed":
                result.passed += 1
            elif record["outcome"] == "skipped":
                result.skipped += 1
                result.first_skip = result.first_skip or record["message"]
            else:
                result.failed += 1
                result.not_implemented += record["not_implemented"]
                if not result.first_failure and not record["not_implemented"]:
                    test = record["test"].split("::")[-1]
                    result.first_failure = f"{test}: {record['message']}"
                    result.where = record.get("where", "")
    broken = next((r for r in records if r.get("collect_error")), None)
    for result in results.values():
        if broken and result.passed + result.failed + result.skipped == 0:
            result.import_error = True
            result.first_failure, result.where = broken["message"], broken["where"]
    failing = {n for n, r in results.items() if r.status == "failing"}
    for number, result in results.items():
        if result.status == "failing":
            result.suspects = suspects(number, failing)
    return list(results.values())


STYLE = {"passing": "green", "failing": "red", "not started": "yellow", "waiting": "yellow",
         "does not import": "red"}


# What `cnnkit grade` checks that the public tests do not (the footer of the table).
GRADER_CHECKS = ("Passing public tests is not a grade: the grader's hidden tests use other inputs "
                 "and also check that outputs keep the input's dtype, inputs are never modified, "
                 "caches are only passed back and BatchNorm's buffers are updated in place.")


def public_tests(r: PhaseResult) -> str:
    """"5/7", "0/7 (7 wait for an earlier phase)": out of all the phase's tests, so the
    denominator stays the same as earlier phases get done."""
    if r.import_error:
        return "-"
    text = f"{r.passed}/{r.passed + r.failed + r.skipped}"
    return text + (f" ({r.skipped} waiting)" if r.skipped else "")


def print_table(results: list[PhaseResult], impl: Path, console: Console) -> None:
    table = Table(title=f"public tests of {impl / 'scratchcnn'} (not a grade)",
                  title_justify="left")
    for column in ("phase", "what", "status", "public tests", "worth"):
        table.add_column(column, justify="right" if column == "worth" else "left")
    for r in results:
        sign = "+" if r.phase.bonus else ""  # extra credit
        table.add_row(str(r.phase.number), r.phase.title + (" (bonus)" if r.phase.bonus else ""),
                      f"[{STYLE[r.status]}]{r.status}[/]", public_tests(r),
                      f"{sign}{r.phase.points:g}")
    console.print(table)
    for r in results:
        if r.status in ("failing", "does not import"):
            console.print(f"[red]{r.phase.label}[/] {r.first_failure}", highlight=False,
                          soft_wrap=True)
            if r.where:
                console.print(f"  {r.where}", highlight=False, soft_wrap=True)
            if r.suspects:
                console.print(f"  {r.suspects}", highlight=False, soft_wrap=True)
        elif r.status == "waiting":
            console.print(f"[yellow]{r.phase.label}[/] {r.first_skip}", highlight=False,
                          soft_wrap=True)
    core = [r for r in results if not r.phase.bonus]
    bonus = [r for r in results if r.phase.bonus]
    passing = " and ".join(f"{sum(r.status == 'passing' for r in group)} of {len(group)} {kind}"
                           for group, kind in ((core, "phases"), (bonus, "bonus phases")) if group)
    console.print(f"{passing} passing their public tests. {GRADER_CHECKS}", highlight=False)


PHASE9_GRADING = (
    "The grader replays the batches your train_epoch feeds the guide's CNN through the reference "
    "(`cnnkit compare train_epoch` tries it), then counts the reference's accuracy on your "
    "model.npz (the guide's CNN only) if your forward pass gives its logits on every test image.")


def print_model_check(impl: Path, model: Path | None, console: Console) -> bool:
    """Phase 9's hand-in as the grader will see it; True if nothing in it would lose points."""
    report = inspect_model(impl, find_model(impl, model))
    console.print(f"[bold]Phase 9 hand-in[/] ({report.path or 'no model.npz'}):", highlight=False)
    for line in report.notes:
        console.print(f"  {line}", highlight=False)
    for line in report.problems + report.shortfalls:
        console.print(f"  [red]would lose points:[/] {line}", highlight=False)
    console.print(f"  {PHASE9_GRADING}", highlight=False)
    return not (report.problems or report.shortfalls)


def register(subparsers) -> None:
    parser = subparsers.add_parser("check", help="run the public tests phase by phase")
    parser.add_argument("phases", nargs="*", type=int, metavar="PHASE",
                        help="phase numbers (default: all, the bonus phases included)")
    parser.add_argument("--impl", default="assignments",
                        help="'assignments' (default), 'solutions' or a folder holding scratchcnn/")
    parser.add_argument("--model", type=Path, help="Phase 9's model.npz (default: beside "
                        "scratchcnn/, else runs/cnn-seed0/model.npz)")
    parser.add_argument("--json", type=Path, help="also write the per-phase results here")
    parser.set_defaults(func=run)


def run(args) -> int:
    impl = resolve_impl(args.impl)
    phases = [phase(n) for n in args.phases] if args.phases else list(PHASES)
    results = summarise(run_public_tests(impl, phases), phases, impl)
    console = Console()
    print_table(results, impl, console)
    model_ok = print_model_check(impl, args.model, console) if 9 in [p.number for p in phases] \
        else True
    if args.json:
        args.json.write_text(json.dumps([
            {"phase": r.phase.number, "name": r.phase.name, "status": r.status,
             "passed": r.passed, "failed": r.failed, "skipped": r.skipped,
             "first_failure": r.first_failure, "where": r.where, "suspects": r.suspects}
            for r in results],
            indent=1) + "\n")
    return 0 if model_ok and all(r.status == "passing" for r in results) else 1
