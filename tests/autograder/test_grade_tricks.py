"""`grade()` against submissions that try to cheat or to break the grader.

test_sandbox.py checks the sandbox itself, call by call; here whole submissions go through
`grade()`, which must stay right: a trick earns nothing it did not implement, and every requested
phase gets a complete result (no exception, no hang).

Each entry of tests/autograder/corpus/tricks/ is read as in test_grade_corpus.py and appended to
"file" of a copy of the stubs (assignments/scratchcnn), whose stubs of the functions it defines
are removed first, as a student's edit replaces them. ENTRY keys:

    phases           the phases graded
    reference_files  files copied from the reference first: the honest part of the submission
    full_marks       phases the honest part must still get full marks in, despite the trick;
                     the other phases score 0
    guide_tests      for a trick that answers the guide's worked examples right (a fixed
                     answer): the tests whose names contain this are built on those examples,
                     and must fail on their random cases ...
    guide_inputs     ... so their feedback names none of these (the worked examples' inputs)
    status           allowed statuses of the other phases
    feedback         a string the feedback of one of their failed tests must contain
    job_seconds      the wall-clock (and CPU) limit of each phase's job, for tricks that hang
    needs_sandbox    the trick would win without real isolation (it reads or writes the host's
                     files): skipped when bubblewrap does not work here
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest
from test_grade_corpus import HANG_GUARD_SECONDS, check_complete, copy_package, entries

from cnnkit.autograder.grade import IMPORT_SECONDS, MAX_FEEDBACK_BYTES, grade
from cnnkit.autograder.sandbox import sandbox_status
from cnnkit.paths import KIT_ROOT
from cnnkit.phases import PHASES

SANDBOX = sandbox_status()


def drop_definitions(path: Path, names: set[str]) -> None:
    """Remove the top-level functions called `names` from the module at `path`."""
    source = path.read_text()
    drop = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name in names:
            drop.update(range(node.lineno, node.end_lineno + 1))
    path.write_text("".join(line for number, line in enumerate(source.splitlines(True), 1)
                            if number not in drop))


@pytest.mark.timeout(HANG_GUARD_SECONDS)
@pytest.mark.parametrize("entry", entries("tricks"))
def test_trick_earns_nothing_it_did_not_implement(entry, tmp_path):
    meta = entry.meta
    if meta.get("needs_sandbox") and not SANDBOX.level.is_sandboxed:
        pytest.skip(f"needs a working bubblewrap sandbox; {SANDBOX.describe()}")
    folder = copy_package(KIT_ROOT / "assignments", tmp_path)
    for name in meta.get("reference_files", ()):
        shutil.copyfile(KIT_ROOT / "solutions" / "scratchcnn" / name, folder / "scratchcnn" / name)
    if meta["file"] not in meta.get("reference_files", ()):
        drop_definitions(folder / "scratchcnn" / meta["file"], {
            node.name for node in ast.parse(entry.code).body if isinstance(node, ast.FunctionDef)})
    numbers = list(meta["phases"])
    result = grade(entry.apply(folder), numbers, job_seconds=meta.get("job_seconds", 120.0))
    phases = check_complete(result, numbers)

    for number, p in phases.items():
        if number in meta.get("full_marks", ()):
            assert (p["status"], p["score"]) == ("passed", p["max_score"]), (number, p["feedback"])
            continue
        assert [t["name"] for t in p["tests"] if t["passed"]] == [], (number, p["tests"])
        assert p["score"] == 0, (number, p["tests"])
        if "guide_tests" in meta:
            check_failed_past_the_guide(meta, p)
        if "status" in meta:
            assert p["status"] in meta["status"], (number, p["status"], p["feedback"])
        if "feedback" in meta:
            failed = [t["feedback"] for t in p["tests"] if not t["passed"]]
            assert any(meta["feedback"] in feedback for feedback in failed), failed


def check_failed_past_the_guide(meta: dict, phase: dict) -> None:
    """The phase's tests on the guide's worked examples failed, each on a random case: the
    trick's fixed answers were right, and earned nothing."""
    guide = [t for t in phase["tests"] if meta["guide_tests"] in t["name"]]
    assert guide, (phase["phase"], [t["name"] for t in phase["tests"]])
    for test in guide:
        assert not any(given in test["feedback"] for given in meta["guide_inputs"]), test


def package_answering_every_name(folder: Path, code: str, at_import: str = "") -> Path:
    """A scratchcnn whose task modules answer every name the grader looks up with `_answer`,
    defined by `code`; `at_import` runs when each module is imported."""
    package = folder / "scratchcnn"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for module in sorted({task.split("::")[0] for p in PHASES for task in p.tasks}):
        (package / module).write_text(f"{at_import}\n{code}\n\ndef __getattr__(name):\n"
                                      f"    return _answer\n")
    return folder


@pytest.mark.timeout(HANG_GUARD_SECONDS)
def test_feedback_is_a_narrow_channel_out_of_the_sandbox(tmp_path, mnist_dir):
    """The attack that leaked the reference: exceptions whose class names and messages carry
    bulk text. Only builtin type names and short messages reach the grade, within
    MAX_FEEDBACK_BYTES for the whole submission."""
    code = ('def _answer(*args, **kwargs):\n'
            '    raise type("E" + "LEAK" * 1250, (Exception,), {})("LEAK" * 1250)\n')
    result = grade(package_answering_every_name(tmp_path, code))
    phases = check_complete(result, [p.number for p in PHASES])
    texts = [p["feedback"] for p in phases.values()] + [
        t["feedback"] for p in phases.values() for t in p["tests"]]
    assert sum(len(text.encode()) for text in texts) <= MAX_FEEDBACK_BYTES
    assert "ELEAK" not in json.dumps(result)  # the class name never crosses
    assert not any("LEAK" * 76 in text for text in texts)  # the message is cut at 300 chars
    assert any("an exception class of your own" in text for text in texts)
    assert all(p["score"] == 0 for p in phases.values())


TEST_BUDGET_SECONDS, TEST_JOB_SECONDS = 40.0, 15.0  # the defaults take 150 s: same mechanism


@pytest.mark.slow
@pytest.mark.timeout(2 * (TEST_BUDGET_SECONDS + IMPORT_SECONDS) + 120)
@pytest.mark.parametrize("code, at_import", [
    ("def _answer(*args, **kwargs):\n    while True:\n        pass\n", ""),
    ("def _answer(*args, **kwargs):\n    import time\n    time.sleep(5)\n", ""),
    ("def _answer(*args, **kwargs):\n    return None\n", "import time\ntime.sleep(10**6)"),
], ids=["loops-in-every-call", "sleeps-in-every-call", "hangs-at-import"])
def test_a_hanging_submission_is_graded_within_its_time_budget(tmp_path, mnist_dir, code,
                                                                at_import):
    """Every phase, bonus included, gets a result: 0 with a reason; the whole grade ends within
    the submission's budget (the timeout above is the hang guard)."""
    result = grade(package_answering_every_name(tmp_path, code, at_import),
                   job_seconds=TEST_JOB_SECONDS, budget_seconds=TEST_BUDGET_SECONDS)
    phases = check_complete(result, [p.number for p in PHASES])
    assert all(p["score"] == 0 for p in phases.values())
    assert {p["status"] for p in phases.values()} <= {"timeout", "failed"}
    assert any(p["status"] == "timeout" for p in phases.values())
