"""The pytest plugin that runs the hidden suites against one submission (`-p cnnkit.autograder.plugin`).

    pytest autograder/suites --submission DIR --grade-report OUT.jsonl

Each suite module's job runs once, in one sandboxed child (`runner.run_job`); the module's
PATCHES (earlier-phase functions) are served by the reference outside the sandbox. Each test's
outcome is appended to OUT.jsonl: phase, test, weight, outcome and, for a failure, its reason.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from .grade import JOB_SECONDS
from .runner import run_job
from .sandbox import Limits
from .suite import BudgetExhausted, Job, NotStarted, StudentAnswers

MAX_FEEDBACK = 600  # characters of one test's feedback (see the instructor guide's bounds)
MIN_JOB_SECONDS = 2.0  # below this a job can't even start Python and NumPy


def pytest_addoption(parser):
    group = parser.getgroup("cnnkit grading")
    group.addoption("--submission", type=Path, help="folder holding the student's scratchcnn/")
    group.addoption("--grade-report", type=Path, help="where to append the per-test records")
    group.addoption("--grade-seed", type=int, default=0,
                    help="seed of the suites' random inputs (the grader derives it per submission)")
    group.addoption("--job-seconds", type=float, default=JOB_SECONDS,
                    help="wall-clock limit of one suite's sandboxed job")
    group.addoption("--deadline", type=float, default=None,
                    help="time.time() by which every job must have ended (the submission's budget)")


def pytest_configure(config):
    config.addinivalue_line("markers", "points(n): weight of a test within its phase")


@pytest.fixture(scope="module")
def student(request):
    """The submission's answers to this suite's job (see `suite`)."""
    module = request.module
    job = Job(request.config.getoption("submission"))
    cases = module.build_job(job, np.random.default_rng(
        [request.config.getoption("grade_seed"), module.PHASE]))
    seconds = request.config.getoption("job_seconds")
    deadline = request.config.getoption("deadline")
    if deadline is not None:
        seconds = min(seconds, deadline - time.time())
        if seconds < MIN_JOB_SECONDS:
            raise BudgetExhausted("not run: your code used up this submission's time budget in "
                                  "earlier phases (a hang, or very slow code there?)")
    limits = Limits(wall_seconds=seconds, cpu_seconds=max(1, int(seconds)))
    result = run_job(request.config.getoption("submission"), job.calls, job.inputs,
                     serve=module.PATCHES, limits=limits)
    return StudentAnswers(result, cases, module.PHASE)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not (report.when == "call" or (report.when == "setup" and report.failed)):
        return
    path = item.config.getoption("grade_report")
    if path is None:
        return
    marker = item.get_closest_marker("points")
    excinfo = call.excinfo
    record = {
        "phase": item.module.PHASE,
        "test": item.name,
        "title": (item.function.__doc__ or item.name).strip().splitlines()[0],
        "weight": marker.args[0] if marker else 1,
        "passed": report.passed,
        "not_started": bool(excinfo and excinfo.errisinstance(NotStarted)),
        # the grader itself failed (no MNIST, a bug): an "error" phase, never the student's fault
        "grader_error": bool(excinfo and not excinfo.errisinstance(AssertionError)),
        "feedback": "" if report.passed else reason(excinfo)[:MAX_FEEDBACK],
    }
    if "student" in item.funcargs:
        sandbox = item.funcargs["student"].result.sandbox
        record.update(isolation=sandbox.isolation, timed_out=sandbox.timed_out)
    elif excinfo and excinfo.errisinstance(BudgetExhausted):
        record.update(timed_out=True)
    with open(path, "a") as out:
        out.write(json.dumps(record) + "\n")


def reason(excinfo) -> str:
    """A failure's message without pytest's assertion rewriting noise."""
    if excinfo is None:
        return "failed"
    if excinfo.errisinstance(AssertionError):
        return str(excinfo.value).split("\nassert ")[0].strip()
    return f"the grader failed on this test ({excinfo.typename}: {excinfo.value}); tell your instructor"
