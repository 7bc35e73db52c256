"""End to end with real nbgrader: course, students, release, fetch, submit, collect, autograde,
feedback, export — and the per-phase scores of four students in the exported CSV.

Students: `stubs` (untouched release), `reference` (the kit's solutions), `bug_phase1` (the
reference with a flipped filter in conv2d_forward_naive) and `tamperer` (pool.py done, the rest
stubs; edits/deletes notebook cells, inflates points, forges a grade cell, monkeypatches numpy and
writes full marks into the gradebook from the notebook, ships a numpy.py and a gradebook.db).

The grader is the course's default, the kit's real `cnnkit grade`. The reference and buggy
students also hand in the model.npz of one reference training run (Phase 9).
"""

from __future__ import annotations

import csv
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.default import ExchangeFetchAssignment, ExchangeSubmit
from traitlets.config import Config

from cnnkit.autograder.nbgrader import workflow
from cnnkit.autograder.nbgrader.course import DEFAULT_ASSIGNMENT, REFERENCE, create_course
from cnnkit.autograder.nbgrader.grading import (STUDENT_FILES, cell_points, grade_submission,
                                                phase_scores)
from cnnkit.autograder.grade import SUITES
from cnnkit.phases import CORE_PHASES, MAX_TOTAL, PHASES, SUBMITTED_MODEL
from cnnkit.release import release_files

pytestmark = pytest.mark.slow  # minutes: nbgrader start-ups, the grader on four students

ASSIGNMENT = DEFAULT_ASSIGNMENT
COURSE_ID = "cnnkit_e2e"
NOTEBOOK = "cnn_from_scratch.ipynb"
STUDENTS = ("stubs", "reference", "bug_phase1", "tamperer")
BUGGY_NAIVE = '''

_reference_naive = conv2d_forward_naive


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    """Bug: flips the filter (a true convolution instead of cross-correlation)."""
    return _reference_naive(x, w[:, :, ::-1, ::-1], b, stride, padding)
'''
TAMPER_CELLS = [
    # monkeypatch numpy so every comparison passes
    "import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.testing.assert_allclose = "
    "lambda *a, **k: None",
    # write full marks into the course gradebook (three folders up from the autograded notebook)
    "from nbgrader.api import Gradebook\nwith Gradebook('sqlite:///../../../gradebook.db') as gb:\n"
    "    for g in gb.db.query(__import__('nbgrader.api').api.Grade):\n"
    "        g.manual_score = 1000\n    gb.db.commit()",
]


def solution_lines() -> set[str]:
    """The reference's solution code: each substantial line inside a solution region that the
    released stubs don't also hold (e.g. a loop header shared with given code)."""
    stubs = "\n".join(content.decode() for rel, content in release_files(REFERENCE).items()
                      if rel.endswith(".py"))
    lines = set()
    for path in (REFERENCE / "scratchcnn").glob("*.py"):
        inside = False
        for line in path.read_text().splitlines():
            if "### BEGIN SOLUTION" in line:
                inside = True
            elif "### END SOLUTION" in line:
                inside = False
            elif inside and len(line.strip()) >= 25 and not line.strip().startswith("#"):
                lines.add(line.strip())
    return {line for line in lines if line not in stubs}


def hidden_suite_lines() -> set[str]:
    """Substantial lines of the hidden suites (their checks and case builders) that no released
    file also holds (an import line shared with the notebook is no secret)."""
    public = "\n".join(content.decode() for content in release_files(REFERENCE).values())
    lines = {line.strip() for path in SUITES.glob("test_phase*.py")
             for line in path.read_text().splitlines()
             if len(line.strip()) >= 30 and not line.strip().startswith(("#", '"""', "def ", "@"))}
    return {line for line in lines if line not in public}


def text_files(folder: Path, suffixes=(".py", ".ipynb", ".html", ".md", ".json", ".txt")):
    return [p for p in folder.rglob("*") if p.is_file() and p.suffix in suffixes]


def student_exchange(step, home: Path, student: str, exchange: Path) -> None:
    """A student's fetch or submit through nbgrader's exchange, in this process (one nbgrader
    start-up costs seconds; four students fetch and submit)."""
    c = Config()
    c.Exchange.root = str(exchange)
    c.Exchange.assignment_dir = str(home)
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.assignment_id = ASSIGNMENT
    c.CourseDirectory.student_id = student
    step(coursedir=CourseDirectory(config=c), authenticator=Authenticator(config=c),
         config=c).start()


def prepare_submission(name: str, work: Path, model: Path) -> None:
    """Turn the fetched assignment `work` into student `name`'s work."""
    package = work / "scratchcnn"
    if name in ("reference", "bug_phase1"):
        for relative in STUDENT_FILES:
            shutil.copyfile(REFERENCE / relative, work / relative)
        shutil.copyfile(model, work / SUBMITTED_MODEL)
    if name == "bug_phase1":
        with open(package / "conv.py", "a") as fh:
            fh.write(BUGGY_NAIVE)
    if name == "tamperer":
        shutil.copyfile(REFERENCE / "scratchcnn/pool.py", package / "pool.py")
        nb_path = work / NOTEBOOK
        nb = nbformat.read(nb_path, as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("task"):
                meta["points"] = 1000  # inflate every phase
                cell.source = "Phase done, full marks."
        nb.cells = [c for c in nb.cells
                    if c.metadata.get("nbgrader", {}).get("grade_id") != CORE_PHASES[-1].name]
        nb.cells += [nbformat.v4.new_code_cell(src) for src in TAMPER_CELLS]
        nb.cells.append(nbformat.v4.new_code_cell("print('bonus')", metadata={"nbgrader": {
            "grade": True, "solution": False, "grade_id": "bonus", "points": 100,
            "schema_version": 3}}))
        nbformat.write(nb, nb_path)
        (work / "numpy.py").write_text("allclose = lambda *a, **k: True\n")
        (package / "extra.py").write_text("FULL_MARKS = True\n")
        shutil.copyfile(work.parents[2] / "course" / "gradebook.db", work / "gradebook.db")


def expected_scores(name: str) -> dict[str, float | None]:
    """Exact expectations where the implementation fixes them; None: checked separately."""
    full = {p.name: p.points for p in PHASES}
    if name == "stubs":
        return {p.name: 0.0 for p in PHASES}
    if name == "reference":
        return full
    if name == "bug_phase1":
        return {**full, PHASES[0].name: None}
    pool_phases = {p.name for p in PHASES if set(p.files) == {"pool.py"}}
    return {p.name: (p.points if p.name in pool_phases else 0.0) for p in PHASES}


@pytest.fixture(scope="module", autouse=True)
def tools_on_path():
    """nbgrader's Gradebook (used here too) runs `alembic` from PATH."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", workflow.tool_path())
        yield


@pytest.fixture(scope="module")
def graded(tmp_path_factory, tools_on_path, reference_run):
    """Run the whole course once; returns the paths and timings the tests look at."""
    root = tmp_path_factory.mktemp("nbgrader")
    course = create_course(root / "course", COURSE_ID, exchange=root / "exchange")
    workflow.add_students(course, STUDENTS)
    workflow.release(course, ASSIGNMENT)
    submissions = {}
    for name in STUDENTS:
        home = root / "home" / name
        home.mkdir(parents=True)
        student_exchange(ExchangeFetchAssignment, home, name, root / "exchange")
        prepare_submission(name, home / ASSIGNMENT, reference_run / "model.npz")
        student_exchange(ExchangeSubmit, home, name, root / "exchange")
        submissions[name] = home / ASSIGNMENT
    start = time.perf_counter()
    workflow.grade(course, ASSIGNMENT, course / "grades.csv")
    seconds = time.perf_counter() - start
    print(f"\ncollect+autograde+feedback+export: {seconds:.1f} s, "
          f"{seconds / len(STUDENTS):.1f} s per student")
    with open(course / "grades.csv", newline="") as fh:
        rows = {row["student_id"]: row for row in csv.DictReader(fh)}
    return {"course": course, "root": root, "rows": rows, "submissions": submissions}


@pytest.mark.parametrize("name", STUDENTS)
def test_csv_has_each_phase_score(graded, name):
    row = graded["rows"][name]
    for phase_name, expected in expected_scores(name).items():
        if expected is not None:
            assert float(row[phase_name]) == expected, (name, phase_name, row)
    assert float(row["raw_score"]) == pytest.approx(sum(float(row[p.name]) for p in PHASES))
    assert float(row["max_score"]) == MAX_TOTAL  # bonus points are extra credit on top
    assert row["needs_manual_grade"] == "no"


def test_bug_costs_only_its_phase(graded):
    row = graded["rows"]["bug_phase1"]
    assert float(row[PHASES[0].name]) < PHASES[0].points
    assert all(float(row[p.name]) == p.points for p in PHASES[1:])


@pytest.mark.parametrize("name", STUDENTS)
def test_csv_matches_grader_on_clean_copy(graded, name, tmp_path):
    """The gradebook holds what the grader gives the student's task files alone."""
    clean = tmp_path / "clean"
    for relative in STUDENT_FILES:
        (clean / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(graded["submissions"][name] / relative, clean / relative)
    source_package = graded["course"] / "source" / ASSIGNMENT / "scratchcnn"
    for path in source_package.glob("*.py"):
        if not (clean / "scratchcnn" / path.name).exists():
            shutil.copyfile(path, clean / "scratchcnn" / path.name)
    model = graded["submissions"][name] / SUBMITTED_MODEL
    if model.is_file():
        shutil.copyfile(model, clean / SUBMITTED_MODEL)
    scores = phase_scores(grade_submission(clean))
    row = graded["rows"][name]
    assert {p: float(row[p]) for p in scores} == scores


def test_tampering_writes_nothing_to_the_gradebook(graded):
    with Gradebook(f"sqlite:///{graded['course'] / 'gradebook.db'}") as gb:
        submission = gb.find_submission(ASSIGNMENT, "tamperer")
        grades = [g for nb in submission.notebooks for g in nb.grades]
        assert {g.cell.name for g in grades} == {p.name for p in PHASES}
        assert all(g.manual_score is None for g in grades)
        assert {g.cell.name: g.max_score for g in grades} == {p.name: cell_points(p)
                                                              for p in PHASES}


def test_student_files_are_graded_not_overwritten(graded):
    autograded = graded["course"] / "autograded" / "reference" / ASSIGNMENT
    for relative in STUDENT_FILES:
        assert (autograded / relative).read_bytes() == \
            (graded["submissions"]["reference"] / relative).read_bytes()


def feedback_html(graded, name) -> str:
    return (graded["course"] / "feedback" / name / ASSIGNMENT /
            NOTEBOOK.replace(".ipynb", ".html")).read_text()


def test_feedback_reports_each_phase(graded):
    stubs = feedback_html(graded, "stubs")
    for p in PHASES:
        assert f"cnnkit grader — {p.label} ({p.title}): 0 / {p.points:g}" in stubs
    assert "not started" in stubs
    bug = feedback_html(graded, "bug_phase1")
    assert "This looks like: the kernel is flipped" in bug  # the grader's hint reaches the student
    tamper = feedback_html(graded, "tamperer")
    assert "/ 1000" not in tamper  # inflated points were reset to the phases table's
    for p in PHASES:  # every phase cell, the deleted one restored, has its table points
        assert re.search(rf'href="#{p.name}">Task</a> \(Score: [\d.]+ / {float(cell_points(p))}\)',
                         tamper), p.name


def test_nothing_hidden_in_release_or_feedback(graded):
    course, root = graded["course"], graded["root"]
    secrets = hidden_suite_lines()
    solution = solution_lines()
    assert solution, "the reference has no solution regions to look for"
    released = [*text_files(course / "release"), *text_files(root / "exchange")]
    released = [p for p in released if "inbound" not in p.parts]  # inbound: what students sent
    feedback = text_files(course / "feedback")
    # The stubs student handed in nothing of the reference: their whole feedback must be clean.
    clean = released + [p for p in feedback if "stubs" in p.parts or p.suffix == ".html"]
    assert released and feedback
    for path in clean:
        text = path.read_text()
        leaked = [line for line in solution if line in text]
        # the reference/bug students' own code is quoted nowhere in the HTML feedback
        assert not leaked, (path, leaked[:3])
        assert not any(secret in text for secret in secrets), path


def test_a_course_that_switches_bonus_phases_off_scores_them_zero(tmp_path, reference_run):
    """`bonus = false` in the course's cnnkit.toml: the reference earns the 100 core points and
    no extra credit, and no bonus cell waits for a manual grade."""
    course = create_course(tmp_path / "course", COURSE_ID, exchange=tmp_path / "exchange")
    config = course / "cnnkit.toml"
    config.write_text(config.read_text().replace("bonus = true", "bonus = false"))
    workflow.add_students(course, ["reference"])
    workflow.release(course, ASSIGNMENT)
    home = tmp_path / "home" / "reference"
    home.mkdir(parents=True)
    student_exchange(ExchangeFetchAssignment, home, "reference", tmp_path / "exchange")
    prepare_submission("reference", home / ASSIGNMENT, reference_run / "model.npz")
    student_exchange(ExchangeSubmit, home, "reference", tmp_path / "exchange")
    workflow.grade(course, ASSIGNMENT, course / "grades.csv")
    with open(course / "grades.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    assert {p.name: float(row[p.name]) for p in PHASES} == {
        p.name: 0.0 if p.bonus else p.points for p in PHASES}
    assert float(row["raw_score"]) == float(row["max_score"]) == MAX_TOTAL
    assert row["needs_manual_grade"] == "no"
    assert "Bonus phases are not graded in this course" in feedback_html(
        {"course": course}, "reference")
