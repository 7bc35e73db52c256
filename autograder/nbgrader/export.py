"""`nbgrader export` with a column per phase: one row per student and assignment.

A phase cell the grader hasn't scored (autograde not run, or failed for that student) is left
empty rather than written as 0, so a failed run can't pass for a zero. The `notes` column says
why a student's grade is not what their files alone would suggest: the intake gate refused the
submission (with the reason), their notebook was replaced, or autograde failed for them.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins import ExportPlugin

from cnnkit.phases import PHASES

from .gate import read_record

COLUMNS = ["assignment", "student_id", "last_name", "first_name", "email", "submitted",
           "timestamp", *[phase.name for phase in PHASES], "raw_score",
           "late_submission_penalty", "score", "max_score", "needs_manual_grade", "notes"]
NOT_GRADED = "autograde failed for this submission: see nbgrader autograde's log"


def submission_row(gradebook: Gradebook, assignment, student, course: Path) -> dict:
    """The CSV row of one student's submission of one assignment (`course`: the course root,
    where the intake records are)."""
    notes = read_record(course, assignment.name, student.id)["notes"]
    row = {"assignment": assignment.name, "student_id": student.id,
           "last_name": student.last_name or "", "first_name": student.first_name or "",
           "email": student.email or "", "max_score": assignment.max_score,
           "notes": " ".join(notes)}
    try:
        submission = gradebook.find_submission(assignment.name, student.id)
    except MissingEntry:
        return {**row, "submitted": "no", "timestamp": "", "raw_score": 0.0,
                "late_submission_penalty": 0.0, "score": 0.0, "needs_manual_grade": "no",
                **{phase.name: 0.0 for phase in PHASES}}
    grades = {grade.cell.name: grade for notebook in submission.notebooks
              for grade in notebook.grades}
    for phase in PHASES:
        grade = grades.get(phase.name)
        row[phase.name] = "" if grade is None or grade.score is None or (
            grade.auto_score is None and grade.manual_score is None) else grade.score
    if any(row[phase.name] == "" for phase in PHASES):
        row["notes"] = " ".join(filter(None, [NOT_GRADED, row["notes"]]))
    penalty = submission.late_submission_penalty or 0.0
    return {**row, "submitted": "yes", "timestamp": submission.timestamp or "",
            "raw_score": submission.score, "late_submission_penalty": penalty,
            "score": max(0.0, submission.score - penalty),
            "needs_manual_grade": "yes" if submission.needs_manual_grade else "no"}


class PhaseCsvExportPlugin(ExportPlugin):
    """CSV export (default `grades.csv`) with the score of each phase in its own column."""

    def export(self, gradebook: Gradebook) -> None:
        dest = Path(self.to or "grades.csv")
        students = {str(s) for s in self.student}
        assignments = {str(a) for a in self.assignment}
        self.log.info("Exporting per-phase grades to %s", dest)
        course = Path(CourseDirectory(parent=self).root)
        rows = [submission_row(gradebook, assignment, student, course)
                for assignment in gradebook.assignments
                if not assignments or assignment.name in assignments
                for student in gradebook.students
                if not students or student.id in students]
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}-", dir=dest.parent)
        try:
            with os.fdopen(fd, "w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=COLUMNS)
                writer.writeheader()
                writer.writerows(rows)
            os.replace(tmp, dest)
        except BaseException:
            os.unlink(tmp)
            raise
