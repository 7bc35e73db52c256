"""Unit tests of the nbgrader packaging: grader boundary, source guard, export columns, notebook."""

from __future__ import annotations

import copy
import json
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator

from cnnkit.autograder.nbgrader import notebook
from cnnkit.autograder.nbgrader.course import REFERENCE, check_source
from cnnkit.autograder.nbgrader.export import COLUMNS
from cnnkit.autograder.nbgrader.grading import (STUDENT_FILES, GraderError, check_result,
                                                grade_submission, grading_copy)
from cnnkit.phases import PHASES
from cnnkit.release import release_files



def write_release(dest: Path) -> Path:
    for relative, content in release_files(REFERENCE).items():
        (dest / relative).parent.mkdir(parents=True, exist_ok=True)
        (dest / relative).write_bytes(content)
    return dest


def test_release_is_a_fit_source_and_the_reference_is_not(tmp_path):
    assert check_source(write_release(tmp_path / "release")) == []
    problems = check_source(REFERENCE)
    assert any("conv.py: holds solution markers" in p for p in problems)


def test_reference_without_markers_is_still_refused(tmp_path):
    source = write_release(tmp_path / "release")
    text = (REFERENCE / "scratchcnn/pool.py").read_text()
    stripped = "".join(line for line in text.splitlines(keepends=True)
                       if "### " not in line)
    (source / "scratchcnn/pool.py").write_text(stripped)
    assert check_source(source) == [f"scratchcnn/pool.py: {task.split('::')[1]} is the reference "
                                    f"solution" for p in PHASES for task in p.tasks
                                    if task.startswith("pool.py::")]


def test_grading_copy_takes_only_task_files_from_the_student(tmp_path):
    source = write_release(tmp_path / "source")
    student = tmp_path / "student"
    (student / "scratchcnn").mkdir(parents=True)
    (student / "scratchcnn/conv.py").write_text("# mine\n")
    (student / "scratchcnn/__init__.py").write_text("import os; os.system('evil')\n")
    (student / "scratchcnn/extra.py").write_text("FULL = True\n")
    (student / "numpy.py").write_text("allclose = lambda *a: True\n")
    (student / "scratchcnn/pool.py").symlink_to(REFERENCE / "scratchcnn/pool.py")
    dest = grading_copy(student, source, tmp_path / "graded")
    assert (dest / "scratchcnn/conv.py").read_text() == "# mine\n"
    for name in ("__init__.py", "pool.py", "layers.py"):  # not handed in / not a task file
        assert (dest / "scratchcnn" / name).read_bytes() == \
            (source / "scratchcnn" / name).read_bytes()
    assert not (dest / "numpy.py").exists() and not (dest / "scratchcnn/extra.py").exists()
    assert set(STUDENT_FILES) <= {p.relative_to(dest).as_posix() for p in dest.rglob("*.py")}


def good_result() -> dict:
    return {"total": 0.0, "max_total": 100.0, "phases": [
        {"phase": p.number, "name": p.name, "score": 0.0, "max_score": p.points,
         "status": "not_started", "tests": []} for p in PHASES]}


@pytest.mark.parametrize("breakage, message", [
    (lambda r: r["phases"].pop(), "must have phases"),
    (lambda r: r["phases"][2].update(max_score=99), "phase 3 max_score must be"),
    (lambda r: r["phases"][0].update(score=11), "phase 1 score must be in [0, 10]"),
    (lambda r: r["phases"][4].update(status="great"), "phase 5 status must be one of"),
])
def test_check_result_refuses_a_result_off_the_phases_table(breakage, message):
    result = copy.deepcopy(good_result())
    breakage(result)
    with pytest.raises(GraderError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_result(result)
    assert check_result(good_result())["phases"][0]["score"] == 0.0


def test_grade_submission_reports_a_grader_that_writes_nothing(tmp_path):
    (tmp_path / "scratchcnn").mkdir()
    with pytest.raises(GraderError, match="grader wrote no result"):
        grade_submission(tmp_path, command=[sys.executable, "-c", "import sys; sys.exit(3)"])


def test_real_grader_scores_the_stubs_not_started(tmp_path, mnist_dir):
    result = grade_submission(write_release(tmp_path))
    assert [e["status"] for e in result["phases"]] == ["not_started"] * len(PHASES)
    assert json.dumps(result)  # plain JSON


def test_export_has_a_column_per_phase():
    assert [c for c in COLUMNS if c in {p.name for p in PHASES}] == [p.name for p in PHASES]


def test_notebook_is_generated_and_valid():
    assert notebook.NOTEBOOK_PATH.read_text() == notebook.render(), \
        "run `python -m cnnkit.autograder.nbgrader.notebook`"
    nb = nbformat.read(notebook.NOTEBOOK_PATH, as_version=4)
    MetadataValidator().validate_nb(nb)
    tasks = {c.metadata.nbgrader["grade_id"]: c.metadata.nbgrader["points"] for c in nb.cells
             if c.metadata.get("nbgrader", {}).get("task")}
    assert tasks == {p.name: 0 if p.bonus else p.points for p in PHASES}  # bonus: extra credit
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "BEGIN SOLUTION" not in code


def run_notebook(folder, monkeypatch) -> str:
    """Execute the guided notebook in `folder` (which holds a scratchcnn/); assert no cell
    raised; return everything the cells printed."""
    from nbclient import NotebookClient
    from cnnkit.autograder.nbgrader.workflow import tool_path
    monkeypatch.setenv("PATH", tool_path())
    nb = nbformat.read(notebook.NOTEBOOK_PATH, as_version=4)
    NotebookClient(nb, timeout=300, resources={"metadata": {"path": str(folder)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    return "".join(o.get("text", "") for o in outputs if o.output_type == "stream")


def test_notebook_runs_on_the_stubs_with_one_line_per_phase(tmp_path, monkeypatch):
    """Every phase cell on the untouched release prints a friendly line, never a traceback."""
    write_release(tmp_path)
    text = run_notebook(tmp_path, monkeypatch)
    for p in PHASES:
        assert (f"Phase {p.number} not started" in text
                or f"Phase {p.number} can't run yet" in text), p.number


@pytest.mark.slow
def test_notebook_runs_on_the_reference_without_a_failure_line(tmp_path, monkeypatch, mnist_dir):
    """A self-learner with every phase done sees every phase's output, and no phase cell reports
    an error, a stub or a missing phase."""
    shutil.copytree(REFERENCE / "scratchcnn", tmp_path / "scratchcnn")
    text = run_notebook(tmp_path, monkeypatch)
    for p in PHASES:
        assert not re.search(rf"Phase {p.number}(:| not started| can't run)", text), p.number
    assert "guide: [3, 4, 8, 10, 18]" in text
