"""nbgrader configuration of a cnnkit course (written by `cnnkit nbgrader init`).

Run every nbgrader command from this folder. What each setting guards against:

- Scores come from the kit's sandboxed grader (`cnnkit grade`), never from the notebook:
  autograde does not execute the student's notebook (no student code in the grading kernel) and
  `PhaseScores` writes each phase's score into the gradebook from the grader's result.
- generate_assignment copies the .py files of source/<assignment>/ verbatim into the release:
  `RefuseSolutionCode` stops it when that folder holds solution code.
- autograde overwrites submitted files with the source versions: the student's task files
  (scratchcnn/conv.py, ...) are excluded, for every assignment in source/.
- collect copies what students hand in with copytree (links followed, FIFOs blocking, one bad
  submission stopping the class): `KitCollect` copies each student's submission through the
  kit's intake gate (regular files only, capped; anything else refuses that submission with a
  reason) and normalises the notebooks against the release.
- zip_collect extracts archives with shutil/zipfile: `IntakeExtractor` passes each student's
  archive or folder through the same gate. It takes only .ipynb by default:
  `ScratchcnnCollector` also takes the task files.
- `nbgrader export` writes one column per phase.
"""

import os

from cnnkit.autograder.nbgrader.collect import ScratchcnnCollector
from cnnkit.autograder.nbgrader.export import PhaseCsvExportPlugin
from cnnkit.autograder.nbgrader.gate import IntakeExtractor, KitCollect
from cnnkit.autograder.nbgrader.grading import STUDENT_FILES
from cnnkit.autograder.nbgrader.preprocessors import (autograde_preprocessors,
                                                      generate_assignment_preprocessors,
                                                      sanitize_preprocessors)

c = get_config()  # noqa: F821 (provided by nbgrader's config loader)
HERE = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "${course_id}"
c.CourseDirectory.root = HERE
c.Exchange.root = "${exchange_root}"

# The grader runs the student's modules; the notebook is only carried to the feedback.
c.Autograde.autograde_preprocessors = autograde_preprocessors()
# Cells with nbgrader metadata that the gradebook doesn't know (forged) become ordinary cells.
c.Autograde.sanitize_preprocessors = sanitize_preprocessors()
# Grader command, called as COMMAND FOLDER --json OUT. Empty: `cnnkit grade` of this environment.
c.PhaseScores.grader_command = []
# A phase cell deleted by a student comes back (with its score) in the autograded notebook.
c.OverwriteCells.add_missing_cells = True

c.GenerateAssignment.preprocessors = generate_assignment_preprocessors()

_source = os.path.join(HERE, "source")
c.Autograde.exclude_overwriting = {
    name: list(STUDENT_FILES) for name in (os.listdir(_source) if os.path.isdir(_source) else [])
}

# collect reads each student's submission through the kit's intake gate (see gate.py).
c.ExchangeFactory.collect = KitCollect
c.ZipCollectApp.extractor_plugin = IntakeExtractor  # the same gate for zip_collect's archives
c.ZipCollectApp.collector_plugin = ScratchcnnCollector
c.ExportApp.plugin_class = PhaseCsvExportPlugin
