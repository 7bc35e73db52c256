"""`cnnkit audit`: how strong the suites are, measured with mutants of the reference.

Every mutant (`cnnkit.mutants`: one student-like mistake in one solution region) is graded on its
own phase, with the real sandboxed grader (`grade`) or, with --public, with the public tests as
`cnnkit check` runs them, and classified:

- killed: it scores below the reference in its phase (public: the phase is not "passing");
- equivalent: not killed, and it gives the reference's outputs on the equivalence battery: every
  call of the phase's hidden suite (`build_job`), drawn from each of `BATTERY_SEEDS` (seeds no
  grade uses), so every regime the suites draw (mixed signs, all-negative, ties and plateaus,
  large and tiny, N = C = F = 1, float32 and float64), compared output by output (same shape and
  dtype, values within `BATTERY_RTOL` of the reference's largest value: a rounding difference no
  test can see); no test could catch such a mutant;
- survived: everything else; its diff is printed.

The score of a phase is killed / (mutants - equivalent). Exit status 0 only when no mutant
survives (with --public: when every phase scores at least `PUBLIC_TARGET`).
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from .paths import KIT_ROOT, import_scratchcnn
from .phases import PHASES, phase
from .mutants import Mutant, all_mutants

REFERENCE = KIT_ROOT / "solutions"
BATTERY_SEEDS = range(10_000, 10_012)
BATTERY_RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-11}
PUBLIC_TARGET = 0.9
JOB_SECONDS = 60.0  # per mutant and phase: a mutant that loops forever is killed by the timeout


@dataclass(frozen=True)
class Outcome:
    ident: str
    phase: int
    operator: str
    verdict: str  # "killed", "equivalent" or "survived"
    detail: str  # the score, or why the battery tells it apart
    diff: str


def copy_with(mutant: Mutant, folder: Path) -> Path:
    shutil.copytree(REFERENCE / "scratchcnn", folder / "scratchcnn",
                    ignore=shutil.ignore_patterns("__pycache__"))
    mutant.write(folder)
    return folder


def hidden_score(folder: Path, number: int) -> float:
    from .autograder.grade import grade  # the grader imports the suites: only where it runs
    return grade(folder, [number], job_seconds=JOB_SECONDS)["phases"][0]["score"]


def public_passing(folder: Path, number: int) -> bool:
    from .check import run_public_tests, summarise
    p = phase(number)
    return summarise(run_public_tests(folder, [p]), [p], folder)[0].status == "passing"


def judge(mutant: Mutant, public: bool, reference: dict[int, float]) -> Outcome:
    """Grade one mutant on its phase; if it is not killed, run the equivalence battery."""
    with tempfile.TemporaryDirectory(prefix="cnnkit-audit-") as scratch:
        folder = copy_with(mutant, Path(scratch))
        if public:
            killed, detail = not public_passing(folder, mutant.phase), "public tests"
        else:
            score = hidden_score(folder, mutant.phase)
            killed = score < reference[mutant.phase] - 1e-9
            detail = f"{score:g} of {reference[mutant.phase]:g}"
        if not killed:
            difference = battery_difference(folder, mutant.phase, mutant.ident)
            verdict = "survived" if difference else "equivalent"
            detail = f"{detail}; battery: {difference or 'same outputs'}"
        else:
            verdict = "killed"
    return Outcome(mutant.ident, mutant.phase, mutant.operator, verdict, detail, mutant.diff)


class PackageCalls:
    """The child harness' calls, resolved in a package imported under another name."""

    def __init__(self, inputs, package):
        from .autograder.child import Calls

        self.calls = type("Calls", (Calls,), {"module": lambda _, name: importlib.import_module(
            f"{package}.{name}")})(inputs)

    def outputs(self, call) -> tuple[str, dict]:
        """(status, outputs by name) of one call: "ok" or the exception's type name."""
        found = []
        try:
            self.calls.run(call, found)
            status = "ok"
        except Exception as exc:  # the mutant's own mistake: part of its behaviour
            status = type(exc).__name__
        return status, dict(found)


def battery_difference(folder: Path, number: int, ident: str, seeds=BATTERY_SEEDS) -> str:
    """Where the mutant in `folder` differs from the reference on the battery, or ""."""
    names = {"mutant": f"_audit_mutant_{abs(hash(ident))}", "reference": "_audit_reference"}
    import_scratchcnn(folder, (), names["mutant"])
    import_scratchcnn(REFERENCE, (), names["reference"])
    suite = importlib.import_module(f"cnnkit.autograder.suites.test_phase{number}")
    from .autograder.suite import Job

    for seed in seeds:
        job = Job(folder)
        suite.build_job(job, np.random.default_rng(seed))
        runs = {who: PackageCalls(job.inputs, name) for who, name in names.items()}
        for call in job.calls:
            got, expected = (runs[who].outputs(call) for who in ("mutant", "reference"))
            difference = compare(got, expected)
            if difference:
                return f"seed {seed}, call {call['id']}: {difference}"
    return ""


def compare(got: tuple[str, dict], expected: tuple[str, dict]) -> str:
    """What differs between two calls' (status, outputs), or ""."""
    if got[0] != expected[0] or got[1].keys() != expected[1].keys():
        return (f"status {got[0]} outputs {sorted(got[1])}, "
                f"reference {expected[0]} {sorted(expected[1])}")
    for name, want in expected[1].items():
        a, b = np.asarray(got[1][name]), np.asarray(want)
        if a.dtype == object or b.dtype == object:
            if repr(got[1][name]) != repr(want):
                return f"output {name!r} differs"
            continue
        if a.shape != b.shape or a.dtype != b.dtype:
            return f"output {name!r}: {a.shape} {a.dtype}, reference {b.shape} {b.dtype}"
        tolerance = BATTERY_RTOL.get(b.dtype, 0.0) * float(np.max(np.abs(b), initial=0.0))
        if not np.allclose(a, b, rtol=0, atol=tolerance, equal_nan=True):
            return f"output {name!r} values differ"
    return ""


def reference_scores(numbers: list[int], public: bool) -> dict[int, float]:
    """The reference's own score in each phase (hidden), or 1 for passing (public)."""
    if public:
        return {n: 1.0 for n in numbers}
    from .autograder.grade import grade
    return {p["phase"]: p["score"] for p in grade(REFERENCE, numbers, JOB_SECONDS)["phases"]}


def sample(mutants: list[Mutant], per_phase: int | None) -> list[Mutant]:
    """Every mutant, or `per_phase` of each phase spread evenly over its list (a fixed choice)."""
    if per_phase is None:
        return mutants
    chosen = []
    for number in sorted({m.phase for m in mutants}):
        own = [m for m in mutants if m.phase == number]
        step = max(len(own) / per_phase, 1.0)
        chosen += [own[int(i * step)] for i in range(min(per_phase, len(own)))]
    return chosen


def audit(numbers: list[int], public: bool = False, jobs: int = 1,
          per_phase: int | None = None) -> list[Outcome]:
    """Judge the mutants of `numbers`' phases, `jobs` at a time."""
    mutants = sample([m for m in all_mutants(REFERENCE / "scratchcnn") if m.phase in numbers],
                     per_phase)
    reference = reference_scores(numbers, public)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(judge, m, public, reference) for m in mutants]
        return [f.result() for f in futures]


def summary(outcomes: list[Outcome], numbers: list[int]) -> list[dict]:
    """Per phase: mutants, killed, equivalent, survived, score."""
    rows = []
    for number in numbers:
        own = [o for o in outcomes if o.phase == number]
        counts = {v: sum(o.verdict == v for o in own) for v in ("killed", "equivalent", "survived")}
        graded = len(own) - counts["equivalent"]
        rows.append({"phase": number, "mutants": len(own), **counts,
                     "score": counts["killed"] / graded if graded else 1.0})
    return rows


def print_report(rows: list[dict], outcomes: list[Outcome], title: str, console: Console) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("phase", "mutants", "killed", "equivalent", "survived", "score"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*(str(row[k]) for k in ("phase", "mutants", "killed", "equivalent",
                                              "survived")), f"{row['score']:.0%}")
    console.print(table)
    for o in outcomes:
        if o.verdict == "survived":
            console.print(f"[red]survived[/] Phase {o.phase} {o.ident} ({o.operator}; {o.detail})",
                          highlight=False)
            console.print(o.diff, highlight=False, markup=False)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "audit", help="measure the suites with mutants of the reference (maintainers)")
    parser.add_argument("--phases", help="comma-separated phase numbers (default: every phase)")
    parser.add_argument("--public", action="store_true",
                        help="grade with the public tests (as `cnnkit check`), not the hidden "
                             "suites")
    parser.add_argument("--jobs", type=int, default=1, help="mutants graded at a time")
    parser.add_argument("--sample", type=int, metavar="K",
                        help="only K mutants per phase, spread evenly (a fixed choice)")
    parser.add_argument("--json", type=Path, help="write every outcome and the table here")
    parser.set_defaults(func=run)


def run(args) -> int:
    numbers = ([phase(int(n)).number for n in args.phases.split(",")] if args.phases
               else [p.number for p in PHASES])
    if args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1 (got {args.jobs})")
    started = time.perf_counter()
    outcomes = audit(numbers, args.public, args.jobs, args.sample)
    seconds = time.perf_counter() - started
    rows = summary(outcomes, numbers)
    kind = "public tests" if args.public else "hidden suites"
    print_report(rows, outcomes, f"mutation audit of the {kind} ({seconds:.0f} s, --jobs "
                                 f"{args.jobs})", Console())
    if args.json:
        args.json.write_text(json.dumps({"public": args.public, "seconds": round(seconds, 1),
                                         "phases": rows,
                                         "mutants": [asdict(o) for o in outcomes]}, indent=1))
    if args.public:
        return 0 if all(row["score"] >= PUBLIC_TARGET for row in rows) else 1
    return 0 if all(row["survived"] == 0 for row in rows) else 1
