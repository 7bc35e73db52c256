"""The kit's test-suite rules for the grader's sandbox (hooks imported by tests/conftest.py).

Tests that need real isolation skip with `SANDBOX_SKIP` in their reason, followed by the probe's
description (sandbox_status().describe(): what is missing or failing), when bubblewrap is missing
or cannot run. The session header says how to get it. CNNKIT_REQUIRE_SANDBOX=1 (CI sets it)
turns those skips into failures.
"""

from __future__ import annotations

import os

import pytest

from cnnkit.autograder.sandbox import sandbox_status

SANDBOX_SKIP = "needs a working bubblewrap sandbox"
GET_BUBBLEWRAP = ("to run them, install bubblewrap: `sudo apt-get install bubblewrap` on "
                  "Debian/Ubuntu (`make test` does it when run as root with apt-get)")


def sandbox_required() -> bool:
    return os.environ.get("CNNKIT_REQUIRE_SANDBOX") == "1"


def pytest_report_header(config) -> list[str]:
    """The grader's isolation level, and what to do when the sandbox tests will be skipped."""
    status = sandbox_status()
    lines = [f"grader sandbox: {status.describe()}"]
    if not status.level.is_sandboxed:
        fate = "FAIL (CNNKIT_REQUIRE_SANDBOX=1)" if sandbox_required() else "be skipped"
        lines.append(f"sandbox tests will {fate}; {GET_BUBBLEWRAP}")
    return lines


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A sandbox test skipped for want of bubblewrap fails instead when the sandbox is required."""
    report = yield
    if report.skipped and sandbox_required() and SANDBOX_SKIP in str(report.longrepr):
        reason = report.longrepr[2].removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = f"CNNKIT_REQUIRE_SANDBOX=1 but this test was skipped: {reason}"
    return report
