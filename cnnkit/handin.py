"""`cnnkit handin [--impl PATH] [--model PATH] [-o FILE.zip]`: the zip the grader expects.

The zip holds `scratchcnn/` (the student's task files, with the release's own `__init__.py` and
`_checks.py`, which the grader uses whatever a student changed in them) and `model.npz` beside
it: what `cnnkit grade`, Gradescope and nbgrader's `zip_collect` read. Before writing it, the
command says what would lose points (stubs left, a missing, unloadable or inaccurate model, a
package that does not import) and what the grader would ignore (other files), runs the public
tests for their summary, and lists the zip's contents. With problems it writes nothing and
exits 1, unless `--incomplete` asks for the partial hand-in anyway.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .blame import describe
from .check import run_public_tests, summarise
from .files import replace_atomically
from .models import load_impl
from .paths import KIT_ROOT, resolve_impl
from .phases import PHASES, SUBMITTED_MODEL
from .release import PACKAGE, release_files
from .submission import TASK_FILES, find_model, inspect_model, stubbed_tasks

MAX_FILE_BYTES = 4 * 1024**2  # a task file larger than this is not source code


@dataclass
class HandIn:
    """What goes into the zip ({name in the zip: bytes}) and what the student must hear."""
    files: dict[str, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # would lose points
    warnings: list[str] = field(default_factory=list)  # worth knowing, no points lost
    notes: list[str] = field(default_factory=list)


def released_support_files() -> dict[str, bytes]:
    """The release's package files that are not task files (__init__.py, _checks.py)."""
    return {name: content for name, content in release_files(KIT_ROOT / "solutions").items()
            if name.startswith(f"{PACKAGE}/") and name.removeprefix(f"{PACKAGE}/")
            not in TASK_FILES}


def collect_package(impl: Path, hand_in: HandIn) -> None:
    """The task files from the student's scratchcnn/, the support files from the release."""
    package = impl / PACKAGE
    for name in TASK_FILES:
        path = package / name
        if path.is_symlink() or not path.is_file():
            hand_in.problems.append(f"{PACKAGE}/{name} is missing (or not a regular file)")
        elif path.stat().st_size > MAX_FILE_BYTES:
            hand_in.problems.append(f"{PACKAGE}/{name} is larger than "
                                    f"{MAX_FILE_BYTES // 1024**2} MiB")
        else:
            hand_in.files[f"{PACKAGE}/{name}"] = path.read_bytes()
    support = released_support_files()
    for name, content in support.items():
        hand_in.files[name] = content
        yours = impl / name
        if yours.is_file() and yours.read_bytes() != content:
            hand_in.warnings.append(f"{name} differs from the release's: the grader uses the "
                                    "release's, so your changes there are left out")
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(impl).as_posix()
        if "__pycache__" in path.parts or relative in hand_in.files or relative in support \
                or path.is_dir():
            continue
        why = ("the grader imports only the task files, so code it needs belongs in them"
               if path.suffix == ".py" else "the grader reads only the task files")
        hand_in.warnings.append(f"{relative} is left out: {why} ({', '.join(TASK_FILES)})")


def check_stubs(impl: Path, hand_in: HandIn) -> None:
    for phase in PHASES:
        stubs = stubbed_tasks(impl, phase)
        if not stubs:
            continue
        names = ", ".join(task.split("::")[1] for task in stubs)
        line = f"{phase.label} ({phase.title}, {phase.worth}): still a stub: {names}"
        (hand_in.warnings if phase.bonus else hand_in.problems).append(line)


def check_model(impl: Path, model: Path | None, hand_in: HandIn) -> None:
    """The package must import; the model must be there, load, and be accurate."""
    try:
        load_impl(impl)
    except Exception as err:  # the student's package: whatever it raises, they must see it
        hand_in.problems.append(f"your scratchcnn does not import, so every phase would get 0: "
                                f"{describe(err, impl / PACKAGE)}")
        return
    report = inspect_model(impl, find_model(impl, model))
    hand_in.problems += report.problems
    hand_in.warnings += report.shortfalls  # partial credit: a hand-in worth making
    hand_in.notes += report.notes
    if report.path is not None and report.path.is_file() and not report.path.is_symlink():
        hand_in.files[SUBMITTED_MODEL] = report.path.read_bytes()
        hand_in.notes.insert(0, f"{SUBMITTED_MODEL} from {report.path}")


def public_tests_summary(impl: Path, hand_in: HandIn) -> None:
    results = summarise(run_public_tests(impl, list(PHASES)), list(PHASES), impl)
    passing = [r.phase.number for r in results if r.status == "passing"]
    hand_in.notes.append(f"public tests: {len(passing)} of {len(results)} phases pass "
                         f"(`cnnkit check` for the table; the grader's hidden tests check more)")
    for r in results:
        if r.status == "failing":
            hand_in.warnings.append(f"{r.phase.label} fails its public tests: {r.first_failure}")


def build(impl: Path, model: Path | None, run_tests: bool = True) -> HandIn:
    hand_in = HandIn()
    collect_package(impl, hand_in)
    check_stubs(impl, hand_in)
    check_model(impl, model, hand_in)
    if run_tests:
        public_tests_summary(impl, hand_in)
    return hand_in


def write_zip(path: Path, files: dict[str, bytes]) -> None:
    """The zip at `path`, written beside it and moved into place once complete."""
    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in sorted(files.items()):
                archive.writestr(name, content)

    replace_atomically(path, write)


def print_report(hand_in: HandIn, out: Path, written: bool) -> None:
    print(f"hand-in {out}{'' if written else ' (not written)'}:")
    for name, content in sorted(hand_in.files.items()):
        print(f"  {name:28} {len(content) / 1024:8.1f} kB")
    for note in hand_in.notes:
        print(f"- {note}")
    for heading, lines in (("warnings", hand_in.warnings),
                           ("would lose points", hand_in.problems)):
        if lines:
            print(f"{heading}:")
            for line in lines:
                print("  " + line.replace("\n", "\n    "))


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "handin", help="check your work and zip exactly what the grader expects")
    parser.add_argument("--impl", default="assignments",
                        help="'assignments' (default) or a folder holding scratchcnn/")
    parser.add_argument("--model", type=Path, help=f"the {SUBMITTED_MODEL} to hand in (default: "
                        f"the one beside scratchcnn/, else runs/cnn-seed0/{SUBMITTED_MODEL})")
    parser.add_argument("-o", "--out", type=Path, default=Path("handin.zip"),
                        help="the zip to write (default: handin.zip)")
    parser.add_argument("--incomplete", action="store_true",
                        help="write the zip even if it would lose points (partial credit)")
    parser.add_argument("--no-tests", dest="tests", action="store_false",
                        help="skip the public tests' summary")
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.out.suffix != ".zip":
        raise ValueError(f"-o must name a .zip file (got {args.out})")
    impl = resolve_impl(args.impl)
    hand_in = build(impl, args.model, args.tests)
    write = not hand_in.problems or args.incomplete
    if write:
        write_zip(args.out, hand_in.files)
    print_report(hand_in, args.out, write)
    if hand_in.problems:
        print(f"{len(hand_in.problems)} problem(s) would lose points" + (
            "; the zip holds your work as it is" if write else
            ": fix them, or hand in as it is with --incomplete"))
        return 1
    print(f"ready: hand in {args.out} (upload it to Gradescope, or as your course says)")
    return 0
