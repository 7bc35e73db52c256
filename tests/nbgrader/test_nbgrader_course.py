"""The rest of INSTRUCTORS.md's claims, each through the real nbgrader commands: the source guard
in generate_assignment, released feedback, a manual score surviving a re-autograde, and
zip_collect (task files filed under scratchcnn/, archives through the intake gate).

Students hand in stubs or one reference file, so grading stays short.
"""

from __future__ import annotations

import csv
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.exchange.default import ExchangeFetchAssignment, ExchangeSubmit
from test_nbgrader_e2e import ASSIGNMENT, COURSE_ID, NOTEBOOK, student_exchange  # noqa: F401
from test_nbgrader_e2e import tools_on_path  # noqa: F401

from cnnkit.autograder.nbgrader import workflow
from cnnkit.autograder.nbgrader.course import REFERENCE, create_course
from cnnkit.phases import PHASES

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
POOL_PHASES = {p.name for p in PHASES if set(p.files) == {"pool.py"}}


def csv_rows(course: Path) -> dict[str, dict]:
    with open(course / "grades.csv", newline="") as fh:
        return {row["student_id"]: row for row in csv.DictReader(fh)}


def test_generate_assignment_refuses_a_source_folder_with_solution_code(tmp_path):
    course = create_course(tmp_path / "course", COURSE_ID, exchange=tmp_path / "exchange")
    source = course / "source" / ASSIGNMENT / "scratchcnn" / "pool.py"
    shutil.copyfile(REFERENCE / "scratchcnn" / "pool.py", source)
    step = workflow.nbgrader(course, "generate_assignment", ASSIGNMENT, "--force", check=False)
    assert step.returncode != 0
    assert "this source folder would release solution code" in step.output
    assert not (course / "release" / ASSIGNMENT / "scratchcnn" / "pool.py").exists()


def test_released_feedback_and_a_manual_score_that_survives_a_reautograde(tmp_path):
    exchange = tmp_path / "exchange"
    course = create_course(tmp_path / "course", COURSE_ID, exchange=exchange)
    workflow.add_students(course, ["dave"])
    workflow.release(course, ASSIGNMENT)
    home = tmp_path / "home"
    home.mkdir()
    student_exchange(ExchangeFetchAssignment, home, "dave", exchange)
    student_exchange(ExchangeSubmit, home, "dave", exchange)
    workflow.grade(course, ASSIGNMENT, course / "grades.csv", release_feedback=True)
    released = list((exchange / COURSE_ID / "feedback").rglob("*.html"))  # named by a hash
    assert len(released) == 1
    assert f"cnnkit grader — {PHASES[0].label}" in released[0].read_text()

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        gb.find_grade(PHASES[0].name, NOTEBOOK[:-6], ASSIGNMENT, "dave").manual_score = 7.0
        gb.db.commit()
    workflow.grade(course, ASSIGNMENT, course / "grades.csv")
    row = csv_rows(course)["dave"]
    assert float(row[PHASES[0].name]) == 7.0  # the instructor's score, not the grader's 0
    assert row["needs_manual_grade"] == "yes"  # flagged for review


def put_by_hand(course: Path, student: str) -> None:
    """A submission copied into submitted/ by hand (no gate), with a cell whose schema_version
    nbgrader refuses: nbgrader's autograde stops for the class at this student."""
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    nb = nbformat.read(course / "release" / ASSIGNMENT / NOTEBOOK, as_version=4)
    next(cell for cell in nb.cells if "nbgrader" in cell.metadata).metadata.nbgrader[
        "schema_version"] = 99  # a released cell: nbgrader keeps it, then its validator stops
    nbformat.write(nb, folder / NOTEBOOK)


def test_zip_collect_files_task_files_and_gates_every_archive(tmp_path):
    """Also: a submission that stops nbgrader's autograde (put in submitted/ by hand, first in
    alphabetical order) fails alone; the others are autograded one by one after it."""
    course = create_course(tmp_path / "course", COURSE_ID, exchange=tmp_path / "exchange")
    workflow.add_students(course, ["aaa_by_hand", "alice", "bob", "carol"])
    workflow.release(course, ASSIGNMENT)
    archive = course / "downloaded" / ASSIGNMENT / "archive"
    archive.mkdir(parents=True)
    notebook = (course / "release" / ASSIGNMENT / NOTEBOOK).read_bytes()
    with zipfile.ZipFile(archive / "alice.zip", "w") as zf:  # an LMS download: flat files
        zf.writestr(f"alice_sub/{NOTEBOOK}", notebook)
        zf.write(REFERENCE / "scratchcnn" / "pool.py", "alice_sub/pool.py")
        zf.writestr("alice_sub/numpy.py", "allclose = lambda *a, **k: True\n")
        zf.writestr("alice_sub/model.npz", b"Phase 9's model, collected as it is")
        zf.writestr("alice_sub/other.npz", b"not a file the grader reads")
    (archive / "bob" / "scratchcnn").mkdir(parents=True)
    (archive / "bob" / NOTEBOOK).write_bytes(notebook)
    (archive / "bob" / "scratchcnn" / "pool.py").symlink_to(REFERENCE / "scratchcnn" / "pool.py")
    with zipfile.ZipFile(archive / "carol.zip", "w") as zf:
        zf.writestr(NOTEBOOK, notebook)
        zf.writestr("../../escape.py", "x = 1\n")
    put_by_hand(course, "aaa_by_hand")
    with pytest.raises(workflow.NbgraderError) as failed:
        workflow.grade(course, ASSIGNMENT, course / "grades.csv", zip_collect=True)
    assert "`nbgrader autograde cnn_from_scratch --student aaa_by_hand --force` failed" in \
        str(failed.value)
    assert "--student alice" not in str(failed.value)
    rows = csv_rows(course)
    assert {p.name: float(rows["alice"][p.name]) for p in PHASES} == {
        p.name: p.points if p.name in POOL_PHASES else 0.0 for p in PHASES}
    for name, reason in (("bob", "scratchcnn/pool.py: a symlink"),
                         ("carol", "../../escape.py: an absolute path or '..' in the zip")):
        assert {float(rows[name][p.name]) for p in PHASES} == {0.0}, rows[name]
        assert "Your submission was refused" in rows[name]["notes"], rows[name]
        assert reason in rows[name]["notes"]
    assert not (tmp_path / "escape.py").exists()
    alice = course / "submitted" / "alice" / ASSIGNMENT
    assert not (alice / "numpy.py").exists() and not (alice / "other.npz").exists()
    assert (alice / "model.npz").read_bytes() == b"Phase 9's model, collected as it is"
