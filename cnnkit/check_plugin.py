"""A pytest plugin for `cnnkit check`: writes each test's phase and outcome as JSON lines.

Loaded with `-p cnnkit.check_plugin`; the file to write is named by CNNKIT_CHECK_REPORT, the
implementation under test by SCRATCHCNN_IMPL (the folder holding scratchcnn/).
"""

import json
import os
import re
from pathlib import Path

import pytest

from cnnkit.blame import one_line, student_error, student_line

PHASE_MARKER = re.compile(r"phase(\d+)$")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    # One record per test: its call, or the setup that stopped it (import errors, skips).
    if not (report.when == "call" or (report.when == "setup" and not report.passed)):
        return
    phases = [int(m.group(1)) for mark in item.iter_markers()
              if (m := PHASE_MARKER.match(mark.name))]
    record = {"test": item.nodeid, "phases": phases, "outcome": report.outcome,
              "not_implemented": bool(call.excinfo and call.excinfo.errisinstance(NotImplementedError)),
              "message": crash_message(report, call), "where": where(report, call)}
    with open(os.environ["CNNKIT_CHECK_REPORT"], "a") as out:
        out.write(json.dumps(record) + "\n")


def pytest_exception_interact(node, call, report):
    """A test file that cannot be collected (the student's package does not import): one record
    with no phase, which `cnnkit check` gives the phases left without tests."""
    if not isinstance(report, pytest.CollectReport) or call.excinfo is None:
        return
    err = call.excinfo.value
    exc, line = student_error(err, Path(os.environ["SCRATCHCNN_IMPL"]) / "scratchcnn") or (err, "")
    record = {"test": node.nodeid, "phases": [], "outcome": "error", "not_implemented": False,
              "collect_error": True, "message": f"your scratchcnn does not import: {one_line(exc)}",
              "where": str(line)}
    with open(os.environ["CNNKIT_CHECK_REPORT"], "a") as out:
        out.write(json.dumps(record) + "\n")


def crash_message(report, call):
    """The first lines of what went wrong, in plain words (no traceback)."""
    if report.passed:
        return ""
    if report.skipped:
        return str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else ""
    if call.excinfo is None:
        return str(report.longrepr).strip().splitlines()[-1]
    text = call.excinfo.exconly().strip()
    return text.removeprefix("AssertionError: ").split("\nassert ")[0]


def where(report, call) -> str:
    """The student's line an exception came from ("in your scratchcnn/pool.py, line 41, ..."),
    or "" (a test's own assertion, or no failure)."""
    if not report.failed or call.excinfo is None:
        return ""
    line = student_line(call.excinfo.value, Path(os.environ["SCRATCHCNN_IMPL"]) / "scratchcnn")
    return str(line) if line else ""
