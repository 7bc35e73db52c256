"""nbgrader packaging of the kit: a course folder that grades with the kit's sandboxed grader.

How a phase's score reaches nbgrader's gradebook:

- `nbgrader collect` / `zip_collect` copy each student's submission through the kit's intake
  gate (`gate`): only regular files, capped; a link, FIFO or device refuses that submission with
  a reason; notebooks are normalised against the release before nbgrader reads them.
- The guided notebook has one nbgrader *task* cell per phase (grade_id = the phase's name,
  points = the phase's points). Task cells are markdown: nbgrader can't award them points on
  its own, so a notebook edited by a student can't either.
- `nbgrader autograde` runs without executing the notebook (no student code in the grading
  kernel). Its preprocessor `PhaseScores` copies the student's task files into a clean folder,
  runs `cnnkit grade` (sandboxed) on it, writes each phase's score as the `auto_score` of that
  phase's cell, and adds the grader's per-test report under each phase for the feedback.
- `PhaseCsvExportPlugin` exports one row per student with a column per phase.

Modules: `course` (course folder, source-folder checks), `gate` (collect through the intake
gate), `grading` (the grader boundary),
`preprocessors` (autograde and generate_assignment hooks), `report` (feedback text),
`export`, `collect` (zip_collect), `workflow` (the instructor's command sequence), `cli`.
"""
