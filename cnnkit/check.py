"""`cnnkit check [PHASE ...]`: the public tests, phase by phase, as a table.

Runs the release's public tests (assignments/tests) in a child pytest process against an
implementation (`--impl`), then reports for each phase: status (not started / failing / passing),
tests passed, points, and the first failure in plain words.
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
from .phases import PHASES, Phase, phase

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
    first_skip: str = ""
    stubbed: bool = False  # every task of the phase still holds its generated stub

    @property
    def status(self) -> str:
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
    return list(results.values())


STYLE = {"passing": "green", "failing": "red", "not started": "yellow", "waiting": "yellow"}


def print_table(results: list[PhaseResult], impl: Path, console: Console) -> None:
    table = Table(title=f"public tests of {impl / 'scratchcnn'}", title_justify="left")
    for column in ("phase", "what", "status", "tests passed", "points"):
        table.add_column(column)
    for r in results:
        tests = f"{r.passed}/{r.passed + r.failed}" + (f" ({r.skipped} skipped)" if r.skipped else "")
        sign = "+" if r.phase.bonus else ""  # extra credit
        points = f"{sign}{r.phase.points:g}" if r.status == "passing" else \
            f"0 of {sign}{r.phase.points:g}"
        table.add_row(str(r.phase.number), r.phase.title + (" (bonus)" if r.phase.bonus else ""),
                      f"[{STYLE[r.status]}]{r.status}[/]", tests, points)
    console.print(table)
    for r in results:
        if r.status == "failing":
            console.print(f"[red]{r.phase.label}[/] {r.first_failure}", highlight=False,
                          soft_wrap=True)
        elif r.status == "waiting":
            console.print(f"[yellow]{r.phase.label}[/] {r.first_skip}", highlight=False,
                          soft_wrap=True)
    core = [r for r in results if not r.phase.bonus]
    bonus = [r for r in results if r.phase.bonus]
    passing = " and ".join(f"{sum(r.status == 'passing' for r in group)} of {len(group)} {kind}"
                           for group, kind in ((core, "phases"), (bonus, "bonus phases")) if group)
    console.print(f"{passing} passing their public tests (the grader's hidden tests check more).")


def register(subparsers) -> None:
    parser = subparsers.add_parser("check", help="run the public tests phase by phase")
    parser.add_argument("phases", nargs="*", type=int, metavar="PHASE",
                        help="phase numbers (default: all, the bonus phases included)")
    parser.add_argument("--impl", default="assignments",
                        help="'assignments' (default), 'solutions' or a folder holding scratchcnn/")
    parser.add_argument("--json", type=Path, help="also write the per-phase results here")
    parser.set_defaults(func=run)


def run(args) -> int:
    impl = resolve_impl(args.impl)
    phases = [phase(n) for n in args.phases] if args.phases else list(PHASES)
    results = summarise(run_public_tests(impl, phases), phases, impl)
    print_table(results, impl, Console())
    if args.json:
        args.json.write_text(json.dumps([
            {"phase": r.phase.number, "name": r.phase.name, "status": r.status,
             "passed": r.passed, "failed": r.failed, "skipped": r.skipped,
             "first_failure": r.first_failure} for r in results], indent=1) + "\n")
    return 0 if all(r.status == "passing" for r in results) else 1
