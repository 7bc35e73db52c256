"""`cnnkit grade-all` on a course-sized batch, killed part-way and restarted.

    .venv/bin/python benchmarks/grade_batch.py --model runs/cnn-seed0/model.npz    # 300, --jobs 2
    .venv/bin/python benchmarks/grade_batch.py -n 15 --phases 1,4,9 --model M.npz  # a quick look

Builds N submissions from the kit's corpora (benchmarks/batch_submissions.py: correct,
known-wrong, tricks that hang or crash, FIFOs, broken zips; one folder in three with a trained
model.npz: --model, else one `cnnkit train` of the reference first). Then two runs of
`cnnkit grade-all --jobs J` on them, each into its own folder:
A. uninterrupted: submissions per minute, the slowest submission;
B. SIGKILLed (grade-all's own process, as a crash would) once --kill-at of the grades exist,
   then restarted to the end: its grades must equal A's.
While each runs, a watcher parses every JSON and CSV file that appears (none may ever be seen
half-written) and samples the memory of grade-all's process tree. Each grade-all is stopped
(SIGKILL of its tree) after --timeout seconds: a hang is reported, never waited out. MNIST for
Phase 9: $CNNKIT_DATA (or --data). Prints a report; exit status 1 if a check failed.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from batch_submissions import Recipe, build_batch
from batch_watch import Watcher, command_name, start_time

MIB = 1024**2


@dataclass
class Run:
    """One grade-all invocation: how it ended and what the watcher saw."""

    started: float  # time.time()
    seconds: float = 0.0
    returncode: int | None = None  # None: killed by us
    timed_out: bool = False
    watcher: Watcher | None = None
    survivors: list[str] = field(default_factory=list)  # "pid (name)" of its processes alive
    # 3 s after our SIGKILL


def grade_all(folder: Path, out: Path, args, stop_after: int | None = None) -> Run:
    """grade-all on `folder` into `out` until it ends, `stop_after` grades exist (then SIGKILL
    of its own process) or args.timeout passes (then SIGKILL of its whole tree)."""
    command = [sys.executable, "-m", "cnnkit.cli", "grade-all", str(folder), "--csv",
               str(out / "scores.csv"), "--results", str(out / "grades"), "--jobs", str(args.jobs)]
    command += ["--phases", args.phases] if args.phases else []
    command += ["--job-seconds", str(args.job_seconds)] if args.job_seconds else []
    out.mkdir(parents=True, exist_ok=True)
    run = Run(time.time())
    start = time.monotonic()
    with open(out / "grade-all.log", "a") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        run.watcher = Watcher(process.pid, out / "grades", out / "scores.csv")
        run.watcher.start()
        while process.poll() is None:
            if stop_after is not None and len(run.watcher.completed) >= stop_after:
                run.survivors = kill(process, run.watcher.last_tree, whole_tree=False)
                break
            if time.monotonic() - start > args.timeout:
                run.timed_out = True
                run.survivors = kill(process, run.watcher.last_tree, whole_tree=True)
                break
            time.sleep(0.2)
        else:
            run.returncode = process.returncode
    run.seconds = time.monotonic() - start
    run.watcher.stop()
    return run


def kill(process: subprocess.Popen, tree: list[int], whole_tree: bool) -> list[str]:
    """SIGKILL grade-all (or its whole `tree` and the session it leads); "pid (name)" of each
    process of its tree still alive 3 s later (an orphan that outlived it), then SIGKILLed too."""
    started = {pid: start_time(pid) for pid in tree}
    still_ours = [pid for pid in tree if started[pid] is not None]
    if whole_tree:
        with contextlib.suppress(ProcessLookupError):  # also what started since the last poll,
            os.killpg(process.pid, signal.SIGKILL)      # unless it left the session
        for pid in still_ours:
            kill_if_same(pid, started[pid])
    process.kill()  # not yet waited for: its pid cannot have been reused
    process.wait()
    time.sleep(3)
    alive = [pid for pid in still_ours if pid != process.pid and start_time(pid) == started[pid]]
    names = [f"{pid} ({command_name(pid)})" for pid in alive]
    for pid in alive:
        kill_if_same(pid, started[pid])
    return names


def kill_if_same(pid: int, started: int | None) -> None:
    """SIGKILL `pid` if it is still the process that started at `started` (not a reused pid)."""
    if started is not None and start_time(pid) == started:
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
            os.kill(pid, signal.SIGKILL)


def train_reference(work: Path) -> Path:
    """One default `cnnkit train` of the reference (about 2 minutes on 2 cores)."""
    out = work / "reference-run"
    subprocess.run([sys.executable, "-m", "cnnkit.cli", "train", "--out", str(out), "--quiet",
                    "--no-baseline"], check=True, stdout=subprocess.DEVNULL)
    return out / "model.npz"


def read_grades(out: Path) -> dict[str, dict]:
    """Student -> their JSON grade, from a run's results folder."""
    return {p.stem: json.loads(p.read_text()) for p in sorted((out / "grades").glob("*.json"))
            if not p.name.startswith(".")}


def grade_key(grade: dict) -> tuple:
    """What must not change between two gradings of the same submission."""
    return grade["total"], tuple((p["phase"], p["status"], p["score"]) for p in grade["phases"])


def csv_problems(out: Path, students: set[str]) -> list[str]:
    """Every student in the CSV exactly once, and no one else."""
    path = out / "scores.csv"
    if not path.is_file():
        return [f"no {path}"]
    rows = list(csv.reader(path.read_text().splitlines()))[1:]
    seen = Counter(row[0] for row in rows)
    problems = [f"{s} appears {n} times" for s, n in seen.items() if n > 1]
    problems += [f"{s} is missing" for s in sorted(students - set(seen))]
    return problems + [f"{s} is not a student" for s in sorted(set(seen) - students)]


def durations(run: Run, order: list[str], jobs: int) -> dict[str, float]:
    """Seconds each submission took, from the times its grade appeared: grade-all's pool hands
    submissions, in `order`, to `jobs` workers first come first served, so the k-th starts when
    the (k - jobs)-th grade of the run was written."""
    done = run.watcher.completed
    finished = sorted(done.values())
    return {student: done[student] - (finished[k - jobs] if k >= jobs else run.started)
            for k, student in enumerate(order) if student in done and k - jobs < len(finished)}


def describe(name: str, run: Run, total: int) -> str:
    end = ("timed out (a hang): SIGKILLed" if run.timed_out else "SIGKILLed part-way"
           if run.returncode is None else f"exit status {run.returncode}")
    return (f"{name}: {run.seconds:.0f} s, {len(run.watcher.completed)}/{total} grades, {end}; "
            f"{run.watcher.reads} files parsed while it ran")


def report(students: dict[str, Recipe], runs: dict[str, Run], work: Path, jobs: int) -> bool:
    """Print the figures and the checks; True if every check passed."""
    n, a = len(students), runs["A uninterrupted"]
    print(f"\n{n} submissions in {work / 'submissions'}; load average {os.getloadavg()[0]:.2f}")
    for name, run in runs.items():
        print("  " + describe(name, run, n))
    if not a.timed_out:
        print(f"throughput: {n / (a.seconds / 60):.1f} submissions per minute "
              f"(run A, --jobs {jobs})")
    took = durations(a, sorted(students), jobs)
    for student in sorted(took, key=took.get, reverse=True)[:3]:
        print(f"slow: {took[student]:.1f} s  {student}")
    watchers = [r.watcher for r in runs.values()]
    tree, single = (max(getattr(w, peak) for w in watchers) / MIB
                    for peak in ("peak_tree_rss", "peak_process_rss"))
    print(f"peak memory of grade-all's process tree: {tree:.0f} MiB summed over its processes, "
          f"{single:.0f} MiB in one")
    grades_a, grades_b = read_grades(work / "A"), read_grades(work / "B")
    print_outcomes(students, grades_a)
    checks = {
        "no half-written JSON or CSV seen": [t for w in watchers for t in w.torn],
        "run A: every student once in the CSV": csv_problems(work / "A", set(students)),
        "run B (restarted): every student once in the CSV": csv_problems(work / "B", set(students)),
        "grades after the restart equal run A's": [
            s for s in students if s in grades_a and grade_key(grades_a[s]) != grade_key(
                grades_b.get(s, {"total": None, "phases": []}))],
        "no grade-all run hung": [name for name, r in runs.items() if r.timed_out],
        "no process outlives grade-all's SIGKILL": [
            f"{name}: {', '.join(r.survivors)}" for name, r in runs.items() if r.survivors],
    }
    for check, problems in checks.items():
        print(f"{'ok  ' if not problems else 'FAIL'} {check}"
              + "".join(f"\n       {p}" for p in problems[:10])
              + (f"\n       ... {len(problems) - 10} more" if len(problems) > 10 else ""))
    return not any(checks.values())


def print_outcomes(students: dict[str, Recipe], grades: dict[str, dict]) -> None:
    """Per kind of submission: how many were graded, and the statuses of their phases."""
    for kind in dict.fromkeys(r.kind for r in students.values()):
        mine = [s for s, r in students.items() if r.kind == kind]
        statuses = Counter(p["status"] for s in mine if s in grades for p in grades[s]["phases"])
        print(f"  {kind:12} {sum(s in grades for s in mine)}/{len(mine)} graded; phase statuses "
              + ", ".join(f"{status} {count}" for status, count in statuses.most_common()))
    shown = set()
    for student, recipe in students.items():  # what each hostile submission got, once per recipe
        if recipe.kind in ("trick", "hostile") and recipe.name not in shown and student in grades:
            shown.add(recipe.name)
            phases = grades[student]["phases"]
            worst = next((p for p in phases if p["status"] != "passed"), phases[0])
            print(f"    {recipe.name:26} total {grades[student]['total']:g}; "
                  f"phase {worst['phase']} {worst['status']}: {worst['feedback'][:90]}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--count", type=int, default=300, help="submissions (default 300)")
    parser.add_argument("--jobs", type=int, default=2, help="grade-all --jobs (default 2)")
    parser.add_argument("--phases", help="grade-all --phases (default: grade-all's)")
    parser.add_argument("--job-seconds", type=float, help="grade-all --job-seconds")
    parser.add_argument("--model", type=Path, help="a trained model.npz (default: train one)")
    parser.add_argument("--data", type=Path, metavar="DIR", help="MNIST folder (sets CNNKIT_DATA)")
    parser.add_argument("--work", type=Path, help="a new folder for everything (default: a "
                        "temporary one, kept for inspection)")
    parser.add_argument("--kill-at", type=float, default=0.4,
                        help="fraction of the grades written when run B is killed (default 0.4)")
    parser.add_argument("--timeout", type=float,
                        help="seconds before a grade-all run counts as hung (default 300 + "
                             "120 s per submission per job)")
    args = parser.parse_args(argv)
    if args.count < 1 or args.jobs < 1 or not 0 < args.kill_at < 1:
        parser.error(f"need -n >= 1, --jobs >= 1 and 0 < --kill-at < 1 (got {args.count}, "
                     f"{args.jobs}, {args.kill_at})")
    args.timeout = args.timeout or 300 + 120 * args.count / args.jobs
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.data:
        os.environ["CNNKIT_DATA"] = str(args.data.resolve())
    work = args.work or Path(tempfile.mkdtemp(prefix="grade-batch-"))
    model = args.model or train_reference(work)
    students = build_batch(work / "submissions", args.count, model)
    print(f"built {len(students)} submissions in {work / 'submissions'}; grade-all --jobs "
          f"{args.jobs}, each run stopped after {args.timeout:.0f} s", flush=True)
    runs = {"A uninterrupted": grade_all(work / "submissions", work / "A", args)}
    stop_after = max(1, math.ceil(args.kill_at * args.count))
    runs["B killed"] = grade_all(work / "submissions", work / "B", args, stop_after)
    runs["B restarted"] = grade_all(work / "submissions", work / "B", args)
    return 0 if report(students, runs, work, args.jobs) else 1


if __name__ == "__main__":
    sys.exit(main())
