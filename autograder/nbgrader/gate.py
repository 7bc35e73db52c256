"""What nbgrader collects passes the kit's intake gate first (`nbgrader collect` = `KitCollect`).

nbgrader's own collect copies a student's inbound folder with `shutil.copytree`, which follows
symlinks (a link to the kit's solutions arrives as the solutions), blocks on a FIFO, reads
/dev/zero forever and aborts the whole collect on a dangling link. `KitCollect` (configured as
`ExchangeFactory.collect` in the course's nbgrader_config.py, so `nbgrader collect`, the
formgrader's button and `cnnkit nbgrader autograde` all use it) copies each student's
submission with `cnnkit.autograder.intake` instead, one student at a time:

- a submission the gate refuses (any link, FIFO, device, over the caps) is collected as the
  released notebooks only, with the reason in that student's intake record: autograde then
  gives every phase 0 with that reason (gradebook comments, feedback, the CSV's notes column);
- every notebook is normalised before nbgrader reads it: nbgrader metadata that the release
  doesn't have (a forged cell, a foreign schema_version, a duplicate grade_id) is dropped, the
  release's nbgrader cells are restored as released, a notebook that is missing or not valid
  is replaced by the released one, and top-level notebooks the assignment doesn't have (a
  renamed copy) are left out, each with a note for the student.

The intake record (`cnnkit_grades/<assignment>/<student>.intake.json`, beside the grader's
results, where no student can write) is what `PhaseScores` and the CSV export read.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

import nbformat
from nbgrader.exchange.default import ExchangeCollect
from nbgrader.plugins import ExtractorPlugin

from cnnkit.files import write_json_atomic

from ..intake import IntakeError, copy_submission
from .grading import RESULTS_DIRECTORY


def record_path(course: Path, assignment: str, student: str) -> Path:
    """Where the intake record of one student's submission is kept (instructor-only)."""
    return Path(course) / RESULTS_DIRECTORY / assignment / f"{student}.intake.json"


def read_record(course: Path, assignment: str, student: str) -> dict:
    """{"refused": reason or None, "notes": [...]}; empty for a submission not collected by
    `KitCollect` (for example copied into submitted/ by hand)."""
    try:
        return json.loads(record_path(course, assignment, student).read_text())
    except (OSError, ValueError):
        return {"refused": None, "notes": []}


def refusal_note(reason: str) -> str:
    return (f"Your submission was refused, so every phase scores 0: {reason}. Hand in only "
            f"regular files and folders (no links, pipes or devices), within the size limits.")


def admit(source: Path, dest: Path, release: Path) -> dict:
    """Put the student's `source` into `dest` (replaced) through the intake gate, notebooks
    normalised against the `release` folder; returns the intake record."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".cnnkit-intake-", dir=dest.parent))
    try:
        try:
            folder, refused = copy_submission(source, staging / "copy"), None
        except IntakeError as err:
            folder, refused = staging / "copy", str(err)
            folder.mkdir()
        notes = normalise_notebooks(folder, release)
        if refused:
            notes = [refusal_note(refused)]
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(folder, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"refused": refused, "notes": notes}


def normalise_notebooks(folder: Path, release: Path) -> list[str]:
    """Make the top-level notebooks of `folder` the release's, as the student edited them, and
    remove every other notebook (a renamed copy would fail autograde, and zip_collect collects
    notebooks from any depth); returns a note for each change the student should know of."""
    released = {path.name: path for path in sorted(release.glob("*.ipynb"))}
    notes = []
    for name in released:  # one inside a top folder (an LMS archive) stands for the top one
        nested = sorted((path for path in folder.rglob(name) if path.is_file()
                         and ".ipynb_checkpoints" not in path.parts), key=lambda p: len(p.parts))
        if not (folder / name).exists() and nested:
            os.replace(nested[0], folder / name)
    for path in sorted(folder.rglob("*.ipynb")):
        if (path.parent == folder and path.name in released and path.is_file()) or \
                not path.exists():  # inside a folder named *.ipynb, removed already
            continue
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        if ".ipynb_checkpoints" not in path.parts:
            notes.append(f"{path.relative_to(folder)} is not a notebook of this assignment and "
                         f"was not collected (its notebook is {', '.join(released)}).")
    for name, path in released.items():
        release_nb = nbformat.read(path, as_version=4)
        nb, note = student_notebook(folder / name, release_nb)
        if note:
            notes.append(f"{name}: {note}. Your phase scores come from your .py files "
                         f"(and model.npz) as usual.")
        nbformat.write(nb, folder / name)
    return notes


def student_notebook(path: Path, release_nb) -> tuple[nbformat.NotebookNode, str]:
    """The student's notebook normalised, or the release's, and a note saying which."""
    if not path.is_file():
        return copy.deepcopy(release_nb), "missing, so the released notebook stands in for it"
    try:
        nb = nbformat.reads(path.read_text(), as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # any parse or schema failure: the release stands in
        reason = " ".join(str(err).split())[:120]
        return (copy.deepcopy(release_nb),
                f"not a valid notebook ({reason}), so the released notebook stands in for it")
    changed = restore_cells(nb, release_nb)
    return nb, ("its nbgrader cells were reset to the released ones (changed or forged cells "
                "restored or made ordinary)" if changed else "")


def grade_id(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    found = meta.get("grade_id") if isinstance(meta, dict) else None
    return found if isinstance(found, str) else None


def restore_cells(nb, release_nb) -> bool:
    """Give `nb` exactly the release's nbgrader cells; returns whether anything changed.

    A cell with a released grade_id (its first occurrence) becomes the released cell (for an
    unlocked answer cell, the student's source under the released metadata); any other
    nbgrader metadata is dropped; released cells the student deleted are put back in order.
    """
    released = {grade_id(cell): cell for cell in release_nb.cells if grade_id(cell)}
    before = nbgrader_view(nb.cells)
    cells, seen = [], set()
    for cell in nb.cells:
        name = grade_id(cell)
        if "nbgrader" not in cell.get("metadata", {}):
            cells.append(cell)
        elif name in released and name not in seen:
            seen.add(name)
            cells.append(released_cell(cell, released[name]))
        else:
            cell = copy.deepcopy(cell)
            del cell.metadata["nbgrader"]
            cells.append(cell)
    order = list(released)
    for index, name in enumerate(order):
        if name not in seen:
            before = [i for i, cell in enumerate(cells) if grade_id(cell) in order[:index]]
            cells.insert(before[-1] + 1 if before else 0, copy.deepcopy(released[name]))
    nb.cells = unique_ids(cells)
    return nbgrader_view(nb.cells) != before


def nbgrader_view(cells) -> list:
    """What nbgrader grades of a notebook's cells (outputs of a run notebook don't count)."""
    return [(cell.cell_type, cell.source, cell.metadata["nbgrader"]) for cell in cells
            if "nbgrader" in cell.get("metadata", {})]


def released_cell(cell, release_cell):
    """The released cell in the student's place (their source kept in an answer cell)."""
    restored = copy.deepcopy(release_cell)
    meta = release_cell.metadata["nbgrader"]
    if meta.get("solution") and not meta.get("locked") and cell.cell_type == release_cell.cell_type:
        restored.source = cell.source
    return restored


def unique_ids(cells) -> list:
    """The cells, with a fresh id for any cell whose id repeats (nbformat requires unique)."""
    seen = set()
    for cell in cells:
        if "id" in cell and cell.id in seen:
            cell.id = nbformat.v4.new_code_cell().id
        seen.add(cell.get("id"))
    return cells


def inbound_parts(name: str) -> list[str]:
    """[student, assignment, timestamp, random] of an inbound folder's name (as nbgrader
    splits it: student ids may hold '+')."""
    return name.rsplit("+", 3)


class KitCollect(ExchangeCollect):
    """nbgrader's exchange collect, each student's submission through the intake gate."""

    def _path_to_record(self, path):
        """A record even for an inbound name a student made unparsable (it would stop
        collect for everyone): it sorts as the oldest."""
        try:
            return super()._path_to_record(path)
        except Exception:  # nbgrader raises ExchangeError or a parse error
            self.log.warning("cnnkit: inbound entry with an unreadable name: %s", path)
            name = os.path.basename(path)
            return {"username": inbound_parts(name)[0], "filename": name,
                    "timestamp": datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)}

    def copy_files(self):
        """nbgrader's copy, one student at a time: one failure can't stop the others."""
        records = self.src_records
        if not records:
            super().copy_files()  # nbgrader's "no submissions" warning
        for record in records:
            src = os.path.join(self.inbound_path, record["filename"])
            try:
                if not stat.S_ISDIR(os.lstat(src).st_mode):  # a link or FIFO as the submission
                    self.do_copy(src, self.submitted_path(record["username"]))
                    continue
                self.src_records = [record]
                super().copy_files()
            except Exception as err:  # logged; the rest of the class is collected
                self.log.error("cnnkit: could not collect %s: %r", record["filename"], err)
        self.src_records = records

    def submitted_path(self, student: str) -> Path:
        return Path(self.coursedir.format_path(self.coursedir.submitted_directory, student,
                                               self.coursedir.assignment_id))

    def do_copy(self, src, dest, log=None):
        """Copy through the gate (never raises for what the student handed in)."""
        name = os.path.basename(src)
        gate_into(self, Path(src), Path(dest), inbound_parts(name)[0])
        stamp = Path(dest) / "timestamp.txt"
        if not stamp.is_file() and len(inbound_parts(name)) >= 3:
            stamp.write_text(inbound_parts(name)[2])  # the time submit gave the inbound folder


class IntakeExtractor(ExtractorPlugin):
    """zip_collect's extraction through the gate: each entry of the archive folder (a .zip or a
    folder, named by the student id) becomes extracted/<student>/, gated and normalised."""

    def extract(self, archive_path: str, extracted_path: str) -> None:
        for name in sorted(os.listdir(archive_path)):
            if not name.startswith("."):
                student = name.removesuffix(".zip")
                gate_into(self.parent, Path(archive_path, name), Path(extracted_path, student),
                          student)


def gate_into(app, source: Path, dest: Path, student: str) -> dict:
    """`admit` for an nbgrader app (its coursedir and log): the release of its assignment (or
    the source folder, if not generated yet), the intake record written."""
    coursedir, assignment = app.coursedir, app.coursedir.assignment_id
    release = Path(coursedir.format_path(coursedir.release_directory, ".", assignment))
    if not release.is_dir():
        release = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
    record = admit(source, dest, release)
    write_json_atomic(record_path(Path(coursedir.root), assignment, student), record)
    if record["refused"]:
        app.log.warning("cnnkit: refused %s's submission: %s", student, record["refused"])
    return record
