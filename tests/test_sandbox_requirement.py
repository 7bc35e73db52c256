"""tests/conftest.py's sandbox rules: a sandbox test skips, saying how to get bubblewrap, unless
CNNKIT_REQUIRE_SANDBOX=1 (CI) makes the skip a failure. Run in a separate pytest process on a
one-test folder beside copies of tests/conftest.py and the modules it imports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox_rules import GET_BUBBLEWRAP, SANDBOX_SKIP

TESTS = Path(__file__).resolve().parent
SKIPPED_SANDBOX_TEST = f'''
import pytest

def test_isolation():
    pytest.skip("{SANDBOX_SKIP}; isolation level: rlimits-only; bwrap is missing")
'''


@pytest.fixture
def suite(tmp_path) -> Path:
    for name in ("conftest.py", "mnist_source.py", "sandbox_rules.py"):
        shutil.copy(TESTS / name, tmp_path)
    (tmp_path / "test_one.py").write_text(SKIPPED_SANDBOX_TEST)
    return tmp_path


def run_pytest(folder: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "CNNKIT_REQUIRE_SANDBOX"} | env
    return subprocess.run([sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider",
                           "--rootdir", str(folder), str(folder)], cwd=folder, env=environ,
                          capture_output=True, text=True, timeout=120)


def test_a_sandbox_test_skips_when_the_sandbox_is_optional(suite):
    run = run_pytest(suite)
    assert run.returncode == 0, run.stdout
    assert f"SKIPPED [1] test_one.py:5: {SANDBOX_SKIP}; isolation level: rlimits-only" in run.stdout


def test_a_sandbox_test_fails_when_the_sandbox_is_required(suite):
    run = run_pytest(suite, CNNKIT_REQUIRE_SANDBOX="1")
    assert run.returncode == 1, run.stdout
    assert (f"CNNKIT_REQUIRE_SANDBOX=1 but this test was skipped: {SANDBOX_SKIP}; isolation "
            "level: rlimits-only; bwrap is missing") in run.stdout


def test_the_header_says_how_to_get_bubblewrap_when_it_is_missing(suite, tmp_path):
    no_bwrap = tmp_path / "bin"  # a PATH without bwrap
    no_bwrap.mkdir()
    run = run_pytest(suite, PATH=str(no_bwrap))
    assert "grader sandbox: isolation level: rlimits-only; bubblewrap (bwrap) is not installed" \
        in run.stdout
    assert f"sandbox tests will be skipped; {GET_BUBBLEWRAP}" in run.stdout
    required = run_pytest(suite, PATH=str(no_bwrap), CNNKIT_REQUIRE_SANDBOX="1")
    assert (f"sandbox tests will FAIL (CNNKIT_REQUIRE_SANDBOX=1); {GET_BUBBLEWRAP}"
            in required.stdout)
