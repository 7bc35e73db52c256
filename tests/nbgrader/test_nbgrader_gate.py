"""The nbgrader collect gate's pieces (fast): admit() and the notebook normalisation.

The real collect + autograde run of the same cases is tests/nbgrader/test_nbgrader_hostile.py.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator

from cnnkit.autograder.nbgrader.gate import admit, grade_id, restore_cells
from cnnkit.paths import KIT_ROOT

pytestmark = pytest.mark.timeout(60)
RELEASED = KIT_ROOT / "assignments" / "notebooks" / "cnn_from_scratch.ipynb"


@pytest.fixture
def release(tmp_path) -> Path:
    folder = tmp_path / "release"
    folder.mkdir()
    shutil.copyfile(RELEASED, folder / RELEASED.name)
    return folder


@pytest.fixture
def handed_in(tmp_path, release) -> Path:
    """A student's folder: the released notebook and a task file."""
    folder = tmp_path / "student"
    (folder / "scratchcnn").mkdir(parents=True)
    (folder / "scratchcnn" / "conv.py").write_text("# mine\n")
    shutil.copyfile(release / RELEASED.name, folder / RELEASED.name)
    return folder


def released_ids() -> list[str]:
    return [grade_id(c) for c in nbformat.read(RELEASED, as_version=4).cells if grade_id(c)]


def test_a_clean_submission_is_copied_without_notes(handed_in, release, tmp_path):
    record = admit(handed_in, tmp_path / "submitted", release)
    assert record == {"refused": None, "notes": []}
    assert (tmp_path / "submitted" / "scratchcnn" / "conv.py").read_text() == "# mine\n"


def test_a_run_notebook_needs_no_note(handed_in, release, tmp_path):
    """Outputs and execution counts of the student's run are not tampering."""
    nb = nbformat.read(handed_in / RELEASED.name, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.execution_count = 1
            cell.outputs = [nbformat.v4.new_output("stream", text="ran\n")]
    nbformat.write(nb, handed_in / RELEASED.name)
    assert admit(handed_in, tmp_path / "submitted", release)["notes"] == []


@pytest.mark.parametrize("make", [
    lambda f: (f / "scratchcnn" / "pool.py").symlink_to("/dev/zero"),
    lambda f: os.mkfifo(f / "scratchcnn" / "pool.py"),
])
def test_a_refused_submission_is_collected_as_the_release_notebook(handed_in, release, tmp_path,
                                                                    make):
    make(handed_in)
    record = admit(handed_in, tmp_path / "submitted", release)
    assert record["refused"].startswith("scratchcnn/pool.py: a ")
    assert record["notes"][0].startswith("Your submission was refused, so every phase scores 0")
    assert sorted(p.name for p in (tmp_path / "submitted").iterdir()) == [RELEASED.name]


def test_forged_and_foreign_metadata_is_dropped_and_phase_cells_restored(release):
    nb = nbformat.read(RELEASED, as_version=4)
    ids = released_ids()
    known = [c for c in nb.cells if grade_id(c)]
    known[0].metadata.nbgrader["schema_version"] = 1  # nbgrader's validator stops the whole
    known[1].metadata.nbgrader["schema_version"] = 99  # autograde on a released cell like these
    for version in (1, 99):
        nb.cells.append(nbformat.v4.new_code_cell("1", metadata={"nbgrader": {
            "grade": True, "grade_id": f"forged{version}", "points": 5,
            "schema_version": version}}))
    task = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("task"))
    task.metadata.nbgrader.update(grade=True, solution=True, locked=False, points=1000)
    task.source = "done"
    nb.cells.append(nbformat.from_dict(dict(task, id="again")))  # a duplicate grade_id
    nb.cells = [c for c in nb.cells if grade_id(c) != ids[-1]]  # a deleted phase cell
    assert restore_cells(nb, nbformat.read(RELEASED, as_version=4))
    assert [grade_id(c) for c in nb.cells if grade_id(c)] == ids
    released = {grade_id(c): c for c in nbformat.read(RELEASED, as_version=4).cells}
    for cell in nb.cells:
        if grade_id(cell):
            assert (cell.source, cell.metadata.nbgrader) == (
                released[grade_id(cell)].source, released[grade_id(cell)].metadata.nbgrader)
    MetadataValidator().validate_nb(nb)  # what stopped autograde for the class now passes
    nbformat.validate(nb)


@pytest.mark.parametrize("change, note", [
    (lambda f: (f / RELEASED.name).write_text("{ not json"), "not a valid notebook"),
    (lambda f: (f / RELEASED.name).unlink(), "missing, so the released notebook stands in"),
    (lambda f: (f / RELEASED.name).rename(f / "my_cnn.ipynb"),
     "my_cnn.ipynb is not a notebook of this assignment"),
])
def test_a_broken_missing_or_renamed_notebook_is_replaced_with_a_note(handed_in, release,
                                                                       tmp_path, change, note):
    change(handed_in)
    record = admit(handed_in, tmp_path / "submitted", release)
    assert record["refused"] is None
    assert any(note in text for text in record["notes"]), record
    collected = tmp_path / "submitted"
    assert sorted(p.name for p in collected.glob("*.ipynb")) == [RELEASED.name]
    assert nbformat.read(collected / RELEASED.name, as_version=4) == \
        nbformat.read(RELEASED, as_version=4)
    assert (collected / "scratchcnn" / "conv.py").read_text() == "# mine\n"


def test_a_notebook_in_a_top_folder_is_used_and_stray_notebooks_are_left_out(handed_in, release,
                                                                            tmp_path):
    """An LMS archive often has one top folder; zip_collect would collect any notebook."""
    top = handed_in / "alice_sub"
    top.mkdir()
    os.replace(handed_in / RELEASED.name, top / RELEASED.name)
    (handed_in / "scratch" / "tries.ipynb").mkdir(parents=True)  # a folder with a notebook's name
    (handed_in / "scratch" / "tries.ipynb" / "notes.txt").write_text("")
    (handed_in / ".ipynb_checkpoints").mkdir()
    (handed_in / ".ipynb_checkpoints" / "x-checkpoint.ipynb").write_text("{}")
    record = admit(handed_in, tmp_path / "submitted", release)
    assert record["notes"] == ["scratch/tries.ipynb is not a notebook of this assignment and was "
                               "not collected (its notebook is cnn_from_scratch.ipynb)."]
    collected = tmp_path / "submitted"
    assert [p.relative_to(collected).as_posix() for p in collected.rglob("*.ipynb")] == [
        RELEASED.name]
