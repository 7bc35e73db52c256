"""`cnnkit release`: generate the student release `assignments/` from the reference `solutions/`.

Every `### BEGIN SOLUTION` ... `### END SOLUTION` region of `solutions/scratchcnn/*.py` becomes
a `raise NotImplementedError(...)` that names the phase, the function and the file (from the
phases table). The public tests and the guided notebooks are copied as they are; `phases.json`
and the release's README are written from the phases table.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import tempfile
from pathlib import Path

from .paths import KIT_ROOT
from .phases import BONUS_PHASES, BONUS_TOTAL, CORE_PHASES, MAX_TOTAL, PHASES, task_owner

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
PACKAGE = "scratchcnn"
# What the release holds besides the stubbed package; each is copied from solutions/ if present.
COPIED = ("tests", "notebooks")


class ReleaseError(Exception):
    """The reference's markers don't match the phases table."""


def enclosing_qualnames(source: str) -> dict[int, str]:
    """Map each line number (1-based) inside a function to its qualified name ("Class.method")."""
    names: dict[int, str] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.ClassDef)):
                qualname = f"{prefix}{child.name}"
                if isinstance(child, ast.FunctionDef):
                    for line in range(child.lineno, child.end_lineno + 1):
                        names[line] = qualname
                visit(child, qualname + ".")

    visit(ast.parse(source), "")
    return names


def stub_source(source: str, file: str, keep=lambda phase: False) -> tuple[str, list[str]]:
    """Replace each solution region of `source` (the file `file` of the package) with a stub.

    Regions of phases for which `keep(phase)` is true keep their code (without the markers).
    Returns the stubbed source and the tasks ("file::qualname") it found.
    """
    names = enclosing_qualnames(source)
    out: list[str] = []
    tasks: list[str] = []
    region_start = None
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if region_start is not None:
                raise ReleaseError(f"{file}:{number}: {BEGIN} inside another solution region")
            if number not in names:
                raise ReleaseError(f"{file}:{number}: {BEGIN} outside a function")
            region_start = number
            task = f"{file}::{names[number]}"
            try:
                owner = task_owner(task)
            except KeyError as err:
                raise ReleaseError(f"{file}:{number}: {err.args[0]}") from None
            tasks.append(task)
            kept = keep(owner)
            if not kept:
                indent = line[: len(line) - len(line.lstrip())]
                out.append(f"{indent}raise NotImplementedError({owner.stub_message(task)!r})\n")
        elif stripped == END:
            if region_start is None:
                raise ReleaseError(f"{file}:{number}: {END} without {BEGIN}")
            region_start = None
        elif region_start is None or kept:
            out.append(line)
    if region_start is not None:
        raise ReleaseError(f"{file}:{region_start}: {BEGIN} is never closed")
    return "".join(out), tasks


def release_files(solutions: Path) -> dict[str, bytes]:
    """Every file of the release, as {relative path: content}, generated from `solutions`."""
    files: dict[str, bytes] = {}
    found: list[str] = []
    for path in sorted((solutions / PACKAGE).glob("*.py")):
        stubbed, tasks = stub_source(path.read_text(), path.name)
        files[f"{PACKAGE}/{path.name}"] = stubbed.encode()
        found += tasks
    expected = [task for phase in PHASES for task in phase.tasks]
    missing = sorted(set(expected) - set(found))
    twice = sorted({task for task in found if found.count(task) > 1})
    if missing or twice:
        raise ReleaseError(f"solution regions don't match the phases table: missing {missing}, "
                           f"more than one region for {twice}")
    for folder in COPIED:
        for path in sorted((solutions / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                content = path.read_bytes()
                if BEGIN.encode() in content:
                    raise ReleaseError(f"{path}: solution markers in a file copied verbatim")
                files[path.relative_to(solutions).as_posix()] = content
    files["phases.json"] = phases_json().encode()
    files["README.md"] = student_readme().encode()
    return files


def phases_json() -> str:
    """The phases table for the release (read by its tests' conftest, which runs without cnnkit)."""
    table = [{"phase": p.number, "name": p.name, "title": p.title, "points": p.points,
              "bonus": p.bonus, "marker": p.marker, "tasks": list(p.tasks)} for p in PHASES]
    return json.dumps(table, indent=1) + "\n"


def student_readme() -> str:
    """The release's README: what to write where, phase by phase."""
    rows = "\n".join(
        f"| {p.number} | {p.title} | {', '.join(t.replace('::', ': ') for t in p.tasks)} "
        f"| {p.worth} | `pytest -m {p.marker}` |"
        for p in PHASES)
    task_files = ", ".join(f"`{name}`" for name in dict.fromkeys(f for p in PHASES for f in p.files))
    return f"""# CNN from scratch: pooling and strides — your assignment

You write a convolutional network in NumPy, one phase at a time, in the package `scratchcnn/`:
every function you write raises `NotImplementedError` naming its phase until you replace that
line with your code. Docstrings give the shapes of every argument and result.

| phase | what | where (file: function) | points | run its tests |
|---|---|---|---|---|
{rows}

Total: {MAX_TOTAL:g} points for phases {CORE_PHASES[0].number}-{CORE_PHASES[-1].number}. Phases \
{BONUS_PHASES[0].number}-{BONUS_PHASES[-1].number} are bonus phases from the guide's extensions, \
worth up to {BONUS_TOTAL:g} extra-credit points when your course grades them. The tests here are \
the public ones; the grader has more.

- See where you stand: `cnnkit check` (a table: phase, status, how many public tests pass,
  the first failure and the line of your code it came from; for Phase 9, your model.npz as the
  grader will see it). Passing the public tests is not a grade: the grader's hidden tests use
  other inputs and also check that outputs keep the input's dtype, that inputs are never
  modified, that caches are only passed back, and that BatchNorm's buffers are updated in place.
- Plain pytest: `pytest -m phase3` (in this folder, or at the kit's root).
- Compare a function of yours with the reference on random inputs: `cnnkit compare im2col`
  (any task: `cnnkit compare Conv2D.backward`, `cnnkit compare train_epoch`).
- Train your own network (Phase 9): `cnnkit train --impl assignments`; it saves
  `runs/cnn-seed0/model.npz`, which you hand in.
- The guided notebook is in `notebooks/`.

## Handing in

`cnnkit handin` checks your work and writes `handin.zip`: your `scratchcnn/` task files and the
`model.npz` that `cnnkit train --impl assignments` saved (`--model PATH` for another one). It
says what would lose points (functions still stubs, a missing or unloadable model, one your
forward pass disagrees with) and writes nothing until they are fixed, unless you hand in partial
work with `--incomplete`; a model below 99% is handed in with a warning (partial credit). Other files are left out: the grader reads only the
task files ({task_files}) and `model.npz`.

- Plain zip (the kit's own grader, or an LMS upload): hand in `handin.zip` as it is;
  `cnnkit grade handin.zip` grades it as your instructor will.
- Gradescope: upload `handin.zip` (or its contents: the `scratchcnn/` folder and `model.npz`).
- nbgrader (JupyterHub): nbgrader takes your assignment folder as it is, so copy the model
  beside `scratchcnn/` there (`cp runs/cnn-seed0/model.npz .`; `cnnkit handin` checks that
  one first), then press "Submit" in the Assignments tab.
- git: `model.npz` is a binary file; commit it with your code if your course collects through
  git (`git add -f runs/cnn-seed0/model.npz` if your `.gitignore` excludes it).
"""


def write_release(solutions: Path, dest: Path) -> None:
    """Write the release into `dest`, replacing it whole only once the new one is complete."""
    files = release_files(solutions)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".release-", dir=dest.parent))
    try:
        for relative, content in files.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        if dest.exists():
            old = dest.with_name(f".{dest.name}-old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(dest, old)
            os.replace(staging, dest)
            shutil.rmtree(old)
        else:
            os.replace(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def diff_release(solutions: Path, dest: Path) -> list[str]:
    """Paths that differ between `dest` and a release generated now (empty when in sync)."""
    files = release_files(solutions)
    present = {p.relative_to(dest).as_posix() for p in dest.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts}
    return sorted(
        [f"missing: {rel}" for rel in files if rel not in present]
        + [f"stale: {rel}" for rel in files if rel in present
           and (dest / rel).read_bytes() != files[rel]]
        + [f"extra: {rel}" for rel in present - files.keys()]
    )


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "release", help="generate the student release (assignments/) from solutions/")
    parser.add_argument("--solutions", type=Path, default=KIT_ROOT / "solutions")
    parser.add_argument("--dest", type=Path, default=KIT_ROOT / "assignments")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the release differs from a fresh one")
    parser.add_argument("--force", action="store_true",
                        help="overwrite student modules that differ from the generated stubs")
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.check:
        drift = diff_release(args.solutions, args.dest)
        for line in drift:
            print(line)
        print("release is in sync" if not drift else f"{len(drift)} file(s) out of sync: "
              f"run `cnnkit release`")
        return 1 if drift else 0
    # A student who works in the kit's own assignments/ must not lose their code to a rerun.
    edited = [line for line in diff_release(args.solutions, args.dest)
              if line.startswith("stale:") and line.endswith(".py") and PACKAGE in line]
    if edited and not args.force:
        print("these modules differ from the generated stubs (they may hold someone's work):")
        for line in edited:
            print(f"  {line.split(': ', 1)[1]}")
        print("copy that work elsewhere, then rerun with --force to overwrite")
        return 1
    write_release(args.solutions, args.dest)
    print(f"wrote {args.dest} from {args.solutions}")
    return 0
