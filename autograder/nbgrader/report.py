"""The grader's per-phase report as notebook markdown, for the autograded notebook and feedback.

Only what the grader chose to tell students goes in: each test's name, points and feedback
line (escaped, shortened). Nothing here reads the hidden tests or the reference.
"""

from __future__ import annotations

import html

from cnnkit.phases import Phase

REPORT_KEY = "cnnkit_report"  # cell metadata key marking a report cell written by the kit
MAX_FEEDBACK_CHARS = 300
STATUS_TEXT = {
    "passed": "passed",
    "partial": "partly passed",
    "failed": "failed",
    "not_started": "not started: your functions still raise NotImplementedError",
    "error": "could not be graded: your code failed to import or crashed the grader",
    "timeout": "ran out of time in the grader",
}


def cell_text(text: str) -> str:
    """`text` made safe for one markdown table cell: escaped, one line, shortened."""
    one_line = " ".join(str(text).split())
    if len(one_line) > MAX_FEEDBACK_CHARS:
        one_line = one_line[:MAX_FEEDBACK_CHARS - 1] + "…"
    return html.escape(one_line).replace("|", "&#124;")


def phase_report(phase: Phase, entry: dict) -> str:
    """Markdown for one phase's grader entry ({"score", "max_score", "status", "tests"})."""
    lines = [
        f"**cnnkit grader — {phase.label} ({phase.title}): "
        f"{entry['score']:g} / {entry['max_score']:g}, {STATUS_TEXT[entry['status']]}.**",
        "",
    ]
    tests = entry.get("tests") or []
    if tests:
        lines += ["| test | points | result | feedback |", "|---|---|---|---|"]
        for test in tests:
            mark = "✓" if test.get("passed") else "✗"
            lines.append(f"| {cell_text(test.get('name', ''))} "
                         f"| {test.get('score', 0):g} / {test.get('max_score', 0):g} | {mark} "
                         f"| {cell_text(test.get('feedback') or '')} |")
        lines.append("")
    if entry.get("suspects"):
        lines += [cell_text(entry["suspects"]), ""]
    if entry["status"] != "passed":
        lines.append(f"Next step: run `pytest tests -m {phase.marker}` and this phase's cells "
                     f"above; the grader's tests check the same contract on other inputs.")
    return "\n".join(lines)


def notes_report(notes: list[str]) -> str:
    """Markdown for the notes on a submission (refused, notebook replaced, ...)."""
    return "\n".join(["**cnnkit grader — notes on your submission:**", "",
                      *(f"- {cell_text(note)}" for note in notes)])


def summary_comment(phase: Phase, entry: dict) -> str:
    """One line for nbgrader's comment box of the phase's cell."""
    tests = entry.get("tests") or []
    passed = sum(1 for test in tests if test.get("passed"))
    counted = f" ({passed} of {len(tests)} grader tests passed)" if tests else ""
    extra = " extra credit" if phase.bonus else ""
    return (f"{phase.label}: {entry['score']:g} / {entry['max_score']:g}{extra}, "
            f"{STATUS_TEXT[entry['status']]}{counted}. Scored by the cnnkit grader.")
