"""`cnnkit grade-all FOLDER --jobs N --csv OUT`: every submission of a folder, in parallel.

Each subfolder or .zip of FOLDER is one student's submission (the name is the student id). Every
grade is written, atomically, to RESULTS/<student>.json as soon as it is known, with a hash of the
submission: a rerun (after a crash, a reboot, new late submissions) grades only what is new or
changed. Nothing one submission does stops the batch: an unexpected failure is recorded as that
student's grade ("error" in every phase, with the reason).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import stat
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from .. import config
from ..files import write_atomic, write_json_atomic
from ..phases import PHASES, phase
from .grade import BUDGET_SECONDS, JOB_SECONDS, add_time_arguments, grade, unreadable
from .intake import IntakeError, read_submission


def submissions(folder: Path) -> dict[str, Path]:
    """Student id -> submission (a subfolder or a .zip), hidden entries and other regular files
    skipped. Nothing is followed: an entry that is a symlink, FIFO or device is listed as that
    student's submission, which the intake gate then refuses with a reason."""
    found = {}
    for path in sorted(folder.iterdir()):
        mode = path.lstat().st_mode
        if path.name.startswith(".") or (stat.S_ISREG(mode) and path.suffix != ".zip"):
            continue
        found[path.stem if path.suffix == ".zip" else path.name] = path
    return found


def fingerprint(path: Path) -> str:
    """sha256 over a submission's files (names and contents) as the intake gate reads them; a
    submission it refuses is fingerprinted by the reason (it is graded again once it changes)."""
    digest = hashlib.sha256()
    try:
        for relative, data in read_submission(path):
            digest.update(relative.as_posix().encode("utf-8", "surrogateescape") + b"\0")
            digest.update(hashlib.sha256(data).digest())
    except IntakeError as err:
        digest.update(f"refused: {err}".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def cached(result_file: Path, sha: str, numbers: list[int]) -> dict | None:
    """The stored grade, if it exists and is of this exact submission and these phases."""
    try:
        result = json.loads(result_file.read_text())
    except (OSError, ValueError):
        return None
    same = (result.get("submission_sha256") == sha and "bonus_max" in result  # today's schema
            and [p["phase"] for p in result.get("phases", [])] == numbers)
    return result if same else None


def grade_one(student: str, path: Path, results: Path, numbers: list[int],
              seconds: dict[str, float]) -> dict:
    """The grade of one student (`seconds`: grade()'s job_seconds and budget_seconds)."""
    try:
        sha = fingerprint(path)  # a refused submission has one too: its reason's
    except Exception as err:  # the batch goes on; the reason is in the student's grade
        sha = f"unreadable: {err!r}"
    result_file = results / f"{student}.json"
    result = cached(result_file, sha, numbers)
    if result is None:
        try:
            result = grade(path, numbers, **seconds)
        except Exception as err:  # the batch goes on; the reason is in the student's grade
            result = unreadable(path, numbers, f"grader error: {err!r}")
        result.update(student=student, submission_sha256=sha)
        write_json_atomic(result_file, result)
    return result


def csv_text(grades: dict[str, dict], numbers: list[int]) -> str:
    """One row per student, one column per graded phase, the total (bonus included)."""
    columns = [f"phase{n}_{phase(n).name}" for n in numbers]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student", *columns, "total", "max_total", "bonus_max"])
    for student, result in sorted(grades.items()):
        scores = {p["phase"]: p["score"] for p in result["phases"]}
        writer.writerow([student, *(scores.get(n, "") for n in numbers),
                         result["total"], result["max_total"], result["bonus_max"]])
    return out.getvalue()


def grade_all(folder: Path, csv_path: Path, results: Path, jobs: int = 2,
              numbers: list[int] | None = None, job_seconds: float = JOB_SECONDS,
              budget_seconds: float = BUDGET_SECONDS, progress: bool = True) -> dict[str, dict]:
    numbers = numbers or [p.number for p in PHASES]
    todo = submissions(folder)
    grades = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        seconds = {"job_seconds": job_seconds, "budget_seconds": budget_seconds}
        futures = {pool.submit(grade_one, student, path, results, numbers, seconds): student
                   for student, path in todo.items()}
        for future in tqdm(as_completed(futures), total=len(futures), unit="submission",
                           disable=not progress):
            grades[futures[future]] = future.result()
    write_atomic(csv_path, csv_text(grades, numbers))
    return grades


def register(subparsers) -> None:
    parser = subparsers.add_parser("grade-all", help="grade every submission of a folder")
    parser.add_argument("folder", type=Path, help="one subfolder or .zip per student")
    parser.add_argument("--csv", type=Path, required=True, help="the per-phase score table")
    parser.add_argument("--results", type=Path,
                        help="per-student JSON grades (default: a 'grades' folder beside --csv)")
    parser.add_argument("--jobs", type=int, default=2, help="submissions graded at once")
    parser.add_argument("--phases", help="comma-separated phase numbers "
                        "(default: the configuration's; every phase, bonus included)")
    config.add_arguments(parser)
    add_time_arguments(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    results = args.results or args.csv.parent / "grades"
    grades = grade_all(args.folder, args.csv, results, args.jobs, config.graded_numbers(args),
                       args.job_seconds, args.budget_seconds)
    errors = [s for s, g in grades.items() if any(p["status"] == "error" for p in g["phases"])]
    print(f"graded {len(grades)} submissions -> {args.csv} (per-student JSON in {results})")
    if errors:
        print(f"{len(errors)} could not be graded in some phase (the reason is in their JSON): "
              f"{', '.join(sorted(errors))}")
    return 0
