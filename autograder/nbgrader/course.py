"""The course folder: create it from the kit, add the assignment's source, check it holds no solution.

nbgrader's generate_assignment copies every non-notebook file of `source/<assignment>/` verbatim
into the student release, so the source folder must hold the *student* release (stubs), never
the reference. `add_assignment` fills it from `cnnkit release` output and `check_source` refuses
a folder that holds solution code (it also runs inside generate_assignment, see preprocessors).
"""

from __future__ import annotations

import ast
import os
import shutil
import tempfile
from pathlib import Path
from string import Template

from cnnkit.config import CONFIG_NAME
from cnnkit.paths import KIT_ROOT
from cnnkit.phases import PHASES

from .grading import PACKAGE

TEMPLATE_DIR = Path(__file__).resolve().parent / "course_template"
DEFAULT_ASSIGNMENT = "cnn_from_scratch"
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
REFERENCE = KIT_ROOT / "solutions"


class CourseError(Exception):
    """The course folder or an assignment's source can't be used as asked."""


def function_nodes(source: str) -> dict[str, ast.AST]:
    """{qualname ("Class.method"): node} of every function in `source`."""
    found: dict[str, ast.AST] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.ClassDef)):
                if isinstance(child, ast.FunctionDef):
                    found[prefix + child.name] = child
                visit(child, f"{prefix}{child.name}.")

    visit(ast.parse(source), "")
    return found


def reference_tasks(reference: Path) -> dict[str, str]:
    """{task: ast dump of the reference's function} for every task of the phases table."""
    dumps: dict[str, str] = {}
    for phase in PHASES:
        for task in phase.tasks:
            file, qualname = task.split("::")
            path = reference / PACKAGE / file
            node = function_nodes(path.read_text()).get(qualname) if path.is_file() else None
            if node is not None:
                dumps[task] = ast.dump(node)
    return dumps


def check_source(folder: Path, reference: Path | None = REFERENCE) -> list[str]:
    """Problems that make `folder` unfit as an nbgrader source folder (empty list: fit).

    Flags any copied-verbatim file with solution markers, and any task function identical to the
    reference's (a reference copied with its markers stripped).
    """
    problems: list[str] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".ipynb"):
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue  # binary data can't hold solution code
        if any(marker in text for marker in SOLUTION_MARKERS):
            problems.append(f"{path.relative_to(folder)}: holds solution markers (reference code)")
    solved = reference_tasks(reference) if reference is not None and reference.is_dir() else {}
    for task, dump in solved.items():
        file, qualname = task.split("::")
        path = folder / PACKAGE / file
        if path.is_file():
            try:
                node = function_nodes(path.read_text()).get(qualname)
            except SyntaxError:
                continue
            if node is not None and ast.dump(node) == dump:
                problems.append(f"{PACKAGE}/{file}: {qualname} is the reference solution")
    return problems


def release_contents(release: Path | None) -> dict[str, bytes]:
    """The student release as {relative path: bytes}: a release folder, or generated now."""
    if release is None:
        from cnnkit.release import release_files  # generated from the reference: stubs only
        return release_files(REFERENCE)
    if not (release / PACKAGE).is_dir():
        raise CourseError(f"release must be a folder holding {PACKAGE}/ (got {release})")
    return {p.relative_to(release).as_posix(): p.read_bytes()
            for p in sorted(release.rglob("*"))
            if p.is_file() and not {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}
            & set(p.parts)}


def source_layout(relative: str) -> str:
    """Where a release file goes in the assignment: notebooks move up next to `scratchcnn/`."""
    path = Path(relative)
    if path.parts[0] == "notebooks" and path.suffix == ".ipynb":
        return path.name
    return relative


def add_assignment(course: Path, assignment: str = DEFAULT_ASSIGNMENT,
                   release: Path | None = None, force: bool = False) -> Path:
    """Fill `course/source/<assignment>/` from the student release; returns that folder.

    Written to a staging folder, checked with `check_source`, then moved into place.
    """
    dest = course / "source" / assignment
    if dest.exists() and not force:
        raise CourseError(f"{dest} exists (it may hold your edits): pass force to replace it")
    files = release_contents(release)
    if not any(Path(rel).suffix == ".ipynb" for rel in files):
        raise CourseError("the release holds no notebook: add solutions/notebooks/ and rerun "
                          "`cnnkit release`")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{assignment}-", dir=dest.parent))
    try:
        for relative, content in files.items():
            target = staging / source_layout(relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        problems = check_source(staging)
        if problems:
            raise CourseError("refusing a source folder with solution code:\n  "
                              + "\n  ".join(problems))
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def write_config(course: Path, course_id: str, exchange: Path | None) -> Path:
    """Write `course/nbgrader_config.py` from the template."""
    text = Template((TEMPLATE_DIR / "nbgrader_config.py").read_text()).substitute(
        course_id=course_id,
        exchange_root=str(exchange.resolve()) if exchange else "/srv/nbgrader/exchange")
    path = course / "nbgrader_config.py"
    fd, tmp = tempfile.mkstemp(prefix=".nbgrader_config-", dir=course)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path


def create_course(course: Path, course_id: str | None = None, exchange: Path | None = None,
                  assignment: str = DEFAULT_ASSIGNMENT, release: Path | None = None) -> Path:
    """Create an nbgrader course folder for the kit: config, instructor notes, the assignment.

    `course_id` defaults to the folder's name; `exchange` is nbgrader's exchange folder
    (default /srv/nbgrader/exchange, JupyterHub's usual place).
    """
    course = Path(course).resolve()
    if (course / "nbgrader_config.py").exists():
        raise CourseError(f"{course} already holds an nbgrader_config.py")
    course.mkdir(parents=True, exist_ok=True)
    course_id = course_id or course.name
    if not course_id.replace("_", "").replace("-", "").isalnum():
        raise CourseError(f"course_id must be letters, digits, '-' or '_' (got {course_id!r})")
    write_config(course, course_id, exchange)
    for name in ("README.md", CONFIG_NAME):
        shutil.copyfile(TEMPLATE_DIR / name, course / name)
    add_assignment(course, assignment, release)
    return course
