"""Issue 18 through real nbgrader: one student can neither raise their grade nor break the class.

A course of students who each submit through the real exchange; the hostile ones then change
what they handed in, in their inbound folder (the only place a student still controls), or in
their notebook before submitting. `cnnkit nbgrader autograde` (collect, autograde, feedback,
export: the real commands, the real sandboxed grader) must grade every student:

- links (to the kit's solutions, to another student's files, dangling, to /dev/zero) and FIFOs
  in the inbound folder: that student's submission is refused, every phase 0, with the reason
  in the CSV and the feedback; nothing hangs and collect goes on for the others;
- a forged schema_version, changed task-cell flags, a notebook that is not JSON, renamed or
  missing: the student's reference code still earns its full scores, with a note.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.exchange.default import ExchangeFetchAssignment, ExchangeSubmit
from test_nbgrader_e2e import (ASSIGNMENT, COURSE_ID, NOTEBOOK, feedback_html,  # noqa: F401
                               prepare_submission, student_exchange, tools_on_path)

from cnnkit.autograder.nbgrader import workflow
from cnnkit.autograder.nbgrader.course import REFERENCE, create_course
from cnnkit.autograder.nbgrader.grading import STUDENT_FILES
from cnnkit.phases import PHASES

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

SOLUTION = REFERENCE / "scratchcnn"
LINKERS = {  # what each student does to their inbound folder after submitting the stubs
    "link_files": lambda inbound, exchange: [
        relink(inbound / rel, REFERENCE / rel) for rel in STUDENT_FILES],
    "link_package": lambda inbound, exchange: relink(inbound / "scratchcnn", SOLUTION),
    "link_other_student": lambda inbound, exchange: [
        relink(inbound / rel, submitted_folder(exchange, "reference") / rel)
        for rel in STUDENT_FILES],
    "a_dangling": lambda inbound, exchange: relink(inbound / "scratchcnn" / "conv.py",
                                                  inbound / "nowhere.py"),
    "dev_zero": lambda inbound, exchange: relink(inbound / "scratchcnn" / "conv.py",
                                                Path("/dev/zero")),
    "fifo": lambda inbound, exchange: (os.unlink(inbound / "scratchcnn" / "conv.py"),
                                       os.mkfifo(inbound / "scratchcnn" / "conv.py")),
}
TAMPERERS = ("schema_versions", "task_flags", "not_json", "renamed", "no_notebook")
STUDENTS = ("reference", *LINKERS, *TAMPERERS, "zz_stubs")  # zz: graded after every other
# schema_versions sorts before task_flags and zz_stubs: before the gate, autograde stopped there.


def relink(path: Path, target: Path) -> None:
    """Replace `path` (a file or folder) by a symlink to `target`."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    path.symlink_to(target)


def submitted_folder(exchange: Path, student: str) -> Path:
    """The student's folder in the exchange's inbound (as submit left it)."""
    return next((exchange / COURSE_ID / "inbound").glob(f"{student}+{ASSIGNMENT}+*"))


def tamper_notebook(name: str, work: Path) -> None:
    """The notebook changes of the issue's items 3 and 4 (the code is the reference's)."""
    path = work / NOTEBOOK
    nb = nbformat.read(path, as_version=4)
    if name == "schema_versions":  # nbgrader's validator stopped autograde for the class on these
        known = [cell for cell in nb.cells if "nbgrader" in cell.metadata]
        for cell, version in zip(known, (1, 99)):
            cell.metadata.nbgrader["schema_version"] = version
        for version in (1, 99):
            nb.cells.append(nbformat.v4.new_code_cell("1", metadata={"nbgrader": {
                "grade": True, "solution": False, "grade_id": f"forged{version}", "points": 5,
                "schema_version": version}}))
    elif name == "task_flags":
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("task"):
                meta.update(grade=True, solution=True, locked=False, checksum="forged")
    if name == "not_json":
        path.write_text("{ this is not a notebook")
    elif name == "renamed":
        nbformat.write(nb, work / "my_cnn.ipynb")
        path.unlink()
    elif name == "no_notebook":
        path.unlink()
    else:
        nbformat.write(nb, path)


@pytest.fixture(scope="module")
def course(tmp_path_factory, tools_on_path, reference_run):
    """The course graded once; returns its paths, CSV rows and the grading time."""
    root = tmp_path_factory.mktemp("nbgrader-hostile")
    exchange = root / "exchange"
    course = create_course(root / "course", COURSE_ID, exchange=exchange)
    workflow.add_students(course, STUDENTS)
    workflow.release(course, ASSIGNMENT)
    for name in STUDENTS:
        home = root / "home" / name
        home.mkdir(parents=True)
        student_exchange(ExchangeFetchAssignment, home, name, exchange)
        work = home / ASSIGNMENT
        if name == "reference" or name in TAMPERERS:
            prepare_submission("reference", work, reference_run / "model.npz")
        if name in TAMPERERS:
            tamper_notebook(name, work)
        student_exchange(ExchangeSubmit, home, name, exchange)
    for name, tamper in LINKERS.items():
        tamper(submitted_folder(exchange, name), exchange)
    start = time.perf_counter()
    error = None
    try:
        workflow.grade(course, ASSIGNMENT, course / "grades.csv")
    except workflow.NbgraderError as err:  # asserted below: no step may fail
        error = str(err)
    seconds = time.perf_counter() - start
    print(f"\nhostile class of {len(STUDENTS)}: collect+autograde+feedback+export "
          f"{seconds:.1f} s")
    with open(course / "grades.csv", newline="") as fh:
        rows = {row["student_id"]: row for row in csv.DictReader(fh)}
    return {"course": course, "rows": rows, "error": error}


def test_every_step_passed_and_the_whole_class_is_exported(course):
    assert course["error"] is None
    assert set(course["rows"]) == set(STUDENTS)
    for name, row in course["rows"].items():
        assert row["submitted"] == "yes", name
        assert all(row[p.name] != "" for p in PHASES), (name, row)  # every phase graded
        assert row["needs_manual_grade"] == "no", name


@pytest.mark.parametrize("name", list(LINKERS))
def test_a_student_with_links_or_fifos_scores_zero_with_the_reason(course, name):
    row = course["rows"][name]
    assert {p.name: float(row[p.name]) for p in PHASES} == {p.name: 0.0 for p in PHASES}
    kind = "FIFO" if name == "fifo" else "symlink"
    assert "Your submission was refused" in row["notes"] and f"a {kind}" in row["notes"], row
    assert "refused" in feedback_html(course, name)
    record = json.loads((course["course"] / "cnnkit_grades" / ASSIGNMENT /
                         f"{name}.intake.json").read_text())
    entry = {"link_package": "scratchcnn", "link_files": sorted(STUDENT_FILES)[0],
             "link_other_student": sorted(STUDENT_FILES)[0]}.get(name, "scratchcnn/conv.py")
    assert record["refused"].startswith(f"{entry}: a {kind}"), record


@pytest.mark.parametrize("name", ["reference", *TAMPERERS])
def test_a_tampered_notebook_still_gets_its_codes_scores(course, name):
    row = course["rows"][name]
    assert {p.name: float(row[p.name]) for p in PHASES} == {p.name: p.points for p in PHASES}
    html = feedback_html(course, name)
    for p in PHASES:
        assert f"cnnkit grader — {p.label} ({p.title}): {p.points:g} / {p.points:g}" in html
    expected_note = {"reference": "", "schema_versions": "were reset to the released ones",
                     "task_flags": "were reset to the released ones", "not_json": "not a valid notebook",
                     "renamed": "my_cnn.ipynb is not a notebook of this assignment",
                     "no_notebook": "missing, so the released notebook stands in"}[name]
    if expected_note:
        assert expected_note in row["notes"] and expected_note in html, row["notes"]
    else:
        assert row["notes"] == ""


def test_the_student_graded_last_is_graded_too(course):
    row = course["rows"]["zz_stubs"]
    assert {p.name: float(row[p.name]) for p in PHASES} == {p.name: 0.0 for p in PHASES}
    assert row["notes"] == ""


def test_no_linked_file_was_copied_into_the_course(course):
    """What the links pointed to is nowhere in submitted/ or autograded/ of those students."""
    solution = {(SOLUTION / Path(rel).name).read_bytes() for rel in STUDENT_FILES}
    for name in LINKERS:
        for stage in ("submitted", "autograded"):
            folder = course["course"] / stage / name / ASSIGNMENT
            files = [p for p in folder.rglob("*") if p.is_file() or p.is_symlink()]
            assert files and not any(p.is_symlink() for p in files), (stage, name)
            assert not any(p.read_bytes() in solution for p in files), (stage, name)
