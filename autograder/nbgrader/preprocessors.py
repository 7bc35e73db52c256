"""nbgrader hooks: phase scores from the sandboxed grader, and a source-folder guard.

`sanitize_preprocessors()` adds `DropUnknownCells` to nbgrader's sanitizing steps;
`autograde_preprocessors()` is nbgrader's autograde list without `Execute` (the student's notebook
never runs in the grading kernel) and with `PhaseScores` before the late-penalty step.
`generate_assignment_preprocessors()` is nbgrader's list led by `RefuseSolutionCode`.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from nbgrader.converters import Autograde, GenerateAssignment
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import (AssignLatePenalties, Execute, NbGraderPreprocessor,
                                   OverwriteCells)
from traitlets import Float, List, Unicode

from cnnkit.files import write_json_atomic
from cnnkit.config import CONFIG_NAME, load_grading
from cnnkit.phases import PHASES

from .course import check_source
from ..grade import unreadable
from ..intake import IntakeError, copy_submission
from .gate import read_record, refusal_note
from .grading import (DEFAULT_TIMEOUT, RESULTS_DIRECTORY, GraderError, cell_points,
                      check_result, grade_submission, grading_copy)
from .report import REPORT_KEY, notes_report, phase_report, summary_comment



class PhaseScores(NbGraderPreprocessor):
    """Grade the submission with the kit's grader and record each phase's score in the gradebook.

    Scores go to the `auto_score` of the task cell named after the phase; a manual score set by
    an instructor in formgrader stays and is flagged for review, as nbgrader does. A bonus phase's
    cell is worth 0 points and its score goes to the grade's `extra_credit`, nbgrader's own extra
    credit; when the course's `cnnkit.toml` switches bonus phases off they score 0 and are not
    graded. The grader's report for each phase is added as a markdown cell after that phase's cell,
    and the intake gate's notes (a refused submission, a replaced notebook) at the top. A
    submission the gate refused scores 0 in every phase, with the reason as each cell's comment.
    """

    grader_command = List(
        Unicode(), default_value=[],
        help="Command that grades a folder holding scratchcnn/: it is called as "
             "COMMAND FOLDER --json OUT. Empty: the kit's `cnnkit grade`.").tag(config=True)
    timeout = Float(DEFAULT_TIMEOUT, help="Seconds before a grading run is abandoned "
                    "(the grader enforces its own per-test limits)").tag(config=True)

    def preprocess(self, nb, resources):
        ids = resources["nbgrader"]
        coursedir = CourseDirectory(parent=self)
        source = Path(coursedir.format_path(coursedir.source_directory, ".", ids["assignment"]))
        submission = Path(resources["metadata"]["path"])
        config = Path(coursedir.root) / CONFIG_NAME
        graded = load_grading(config if config.is_file() else None).phases
        intake = read_record(Path(coursedir.root), ids["assignment"], ids["student"])
        result = self.grade(submission, source, graded, intake["refused"])
        refused_here = result["refused"] and not intake["refused"]  # by the gate below
        notes = intake["notes"] + ([refusal_note(result["refused"])] if refused_here else [])
        write_json_atomic(Path(coursedir.root) / RESULTS_DIRECTORY / ids["assignment"]
                          / f"{ids['student']}.json", {**result, "notes": notes})
        entries = {entry["phase"]: entry for entry in result["phases"]}
        recorded = self.record(entries, ids, result["refused"])
        return add_reports(nb, entries, recorded, notes), resources

    def grade(self, submission: Path, source: Path, phases, refused: str | None) -> dict:
        """The grader's checked result for the student's task files over the source package,
        read through the intake gate again (a submission put in submitted/ by hand too); a
        refused submission scores 0 in every phase, with the reason."""
        with tempfile.TemporaryDirectory(prefix="cnnkit-submission-") as tmp:
            try:
                if refused:
                    raise IntakeError(refused)
                handed_in = copy_submission(submission, Path(tmp) / "handed_in")
            except IntakeError as err:
                self.log.warning("cnnkit: %s refused: %s", submission, err)
                result = unreadable(str(submission), [p.number for p in phases], str(err))
                return {**check_result(result, phases), "refused": str(err)}
            folder = grading_copy(handed_in, source, Path(tmp) / "graded")
            self.log.info("cnnkit: grading %s (files %s)", submission, digest(folder))
            result = grade_submission(folder, phases, self.grader_command or None, self.timeout)
            return {**result, "refused": None}

    def record(self, entries: dict[int, dict], ids: dict, refused: str | None) -> list:
        """Write the scores of this notebook's phase cells; returns the phases graded."""
        recorded = []
        with Gradebook(ids["db_url"]) as gb:
            notebook = gb.find_notebook(ids["notebook"], ids["assignment"])
            cells = {cell.name: cell for cell in notebook.task_cells + notebook.grade_cells}
            for phase in PHASES:
                if phase.name not in cells:
                    continue
                if cells[phase.name].max_score != cell_points(phase):
                    raise GraderError(
                        f"cell {phase.name} of {ids['notebook']} is worth "
                        f"{cells[phase.name].max_score:g} points but phase {phase.number} needs "
                        f"{cell_points(phase):g}: regenerate the notebook and rerun "
                        f"generate_assignment")
                grade = gb.find_grade(phase.name, ids["notebook"], ids["assignment"],
                                      ids["student"])
                comment = gb.find_comment(phase.name, ids["notebook"], ids["assignment"],
                                          ids["student"])
                entry = entries.get(phase.number)
                score = float(entry["score"]) if entry else 0.0
                if phase.bonus:
                    grade.auto_score, grade.extra_credit = 0.0, score
                else:
                    grade.auto_score = score
                grade.needs_manual_grade = grade.manual_score is not None
                comment.auto_comment = (
                    "Bonus phases are not graded in this course." if not entry else
                    f"{phase.label}: 0 / {entry['max_score']:g}: submission refused: {refused}"
                    if refused else summary_comment(phase, entry))
                if entry:
                    recorded.append(phase)
            gb.db.commit()
        return recorded


def digest(folder: Path) -> str:
    """Short hash of the files in `folder`, for the log (which version was graded)."""
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


def add_reports(nb, entries: dict[int, dict], phases: list,
                notes: list[str]) -> nbformat.NotebookNode:
    """`nb` with the grader's report after each phase's cell, the notes on the submission at the
    top (and no report cell forged before)."""
    nb.cells = [cell for cell in nb.cells if REPORT_KEY not in cell.metadata]
    if notes:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(notes_report(notes),
                                                         metadata={REPORT_KEY: "notes"}))
    for phase in phases:
        report = nbformat.v4.new_markdown_cell(phase_report(phase, entries[phase.number]),
                                               metadata={REPORT_KEY: phase.name})
        at = next((i for i, cell in enumerate(nb.cells)
                   if cell.metadata.get("nbgrader", {}).get("grade_id") == phase.name),
                  len(nb.cells) - 1)
        nb.cells.insert(at + 1, report)
    return nb


class DropUnknownCells(NbGraderPreprocessor):
    """Strip nbgrader metadata from cells the gradebook doesn't know: cells a student forged.

    nbgrader only drops such a cell's grade_id, which leaves a "grade cell" without one and fails
    the whole notebook's validation; a forged cell should just be an ordinary cell.
    """

    def preprocess(self, nb, resources):
        ids = resources["nbgrader"]
        with Gradebook(ids["db_url"]) as gb:
            known = {cell.name for cell in
                     gb.find_notebook(ids["notebook"], ids["assignment"]).source_cells}
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if "nbgrader" in cell.metadata and grade_id not in known:
                self.log.warning("Dropping nbgrader metadata of unknown cell %r", grade_id)
                del cell.metadata["nbgrader"]
        return nb, resources


class RefuseSolutionCode(NbGraderPreprocessor):
    """Stop generate_assignment when the source folder holds solution code.

    generate_assignment copies the folder's .py files verbatim into the release that students
    fetch, so a reference copied there would be handed out.
    """

    def preprocess(self, nb, resources):
        problems = check_source(Path(resources["metadata"]["path"]))
        if problems:
            raise GraderError("this source folder would release solution code:\n  "
                              + "\n  ".join(problems))
        return nb, resources


def sanitize_preprocessors() -> list:
    """nbgrader's sanitizing steps, with forged cells made ordinary before they are checked."""
    steps = list(Autograde.class_traits()["sanitize_preprocessors"].default())
    steps.insert(steps.index(OverwriteCells), DropUnknownCells)
    return steps


def autograde_preprocessors() -> list:
    """nbgrader's autograde steps without executing the notebook, plus PhaseScores."""
    steps = [step for step in Autograde.class_traits()["autograde_preprocessors"].default()
             if step is not Execute]
    steps.insert(steps.index(AssignLatePenalties), PhaseScores)
    return steps


def generate_assignment_preprocessors() -> list:
    """nbgrader's generate_assignment steps, led by the solution-code guard."""
    return [RefuseSolutionCode,
            *GenerateAssignment.class_traits()["preprocessors"].default()]
