"""`nbgrader zip_collect` for the kit: notebooks and the student's `scratchcnn/` task files.

nbgrader's collector takes only `.ipynb` by default and puts each file at the top of the
submission; the kit needs `conv.py`, `pool.py`, ... inside `scratchcnn/`. This collector accepts
`.py` files that are task files (wherever they sit in the student's archive) and files them
under `scratchcnn/`; any other `.py` (a `numpy.py`, a helper) is skipped with a warning.

Default layout: one archive or folder per student, named by the student id, under
`downloaded/<assignment>/archive/` (e.g. `archive/bitdiddle.zip`). For an LMS that names files
differently, set `ScratchcnnCollector.named_regexp` (it is matched against the path relative to
the extracted folder and must give `student_id` and `file_id`).
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath

from nbgrader.plugins import FileNameCollectorPlugin
from traitlets import default

from cnnkit.phases import SUBMITTED_MODEL

from .grading import PACKAGE, STUDENT_FILES


class ScratchcnnCollector(FileNameCollectorPlugin):
    """Collect notebooks, task files (filed under `scratchcnn/`) and Phase 9's model.npz."""

    @default("valid_ext")
    def _valid_ext_default(self):
        return [".ipynb", ".py", ".npz"]

    @default("named_regexp")
    def _named_regexp_default(self):
        return r"(?P<student_id>[^/]+)/(?:.*/)?(?P<file_id>[^/]+)$"

    def collect(self, submitted_file: str):
        extracted = self.parent._format_collect_path(self.parent.extracted_directory)
        relative = PurePosixPath(os.path.relpath(submitted_file, extracted)).as_posix()
        info = super().collect(relative)
        suffix = PurePosixPath(relative).suffix
        if info and suffix == ".npz":
            return {**info, "file_id": SUBMITTED_MODEL} if info["file_id"] == SUBMITTED_MODEL \
                else None
        if not info or suffix != ".py":
            return info
        task_file = f"{PACKAGE}/{PurePosixPath(info['file_id']).stem}.py"
        if task_file not in STUDENT_FILES:
            self.log.warning("Skipped %s: not one of the task files %s", relative, STUDENT_FILES)
            return None
        return {**info, "file_id": task_file}
