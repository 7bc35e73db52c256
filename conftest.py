"""`pytest -m phase3` from the repository root runs Phase 3's public tests, as it does inside
`assignments/`: a marker expression that names phases, with no paths given, selects the student
release's tests (`assignments/tests`) instead of the kit's own (`tests/`, the default)."""

import re
from pathlib import Path

import pytest

PUBLIC_TESTS = Path(__file__).resolve().parent / "assignments" / "tests"


def pytest_configure(config):
    names_a_phase = re.search(r"\bphase\d+\b", config.option.markexpr or "")
    if names_a_phase and config.args_source == pytest.Config.ArgsSource.TESTPATHS:
        config.args[:] = [str(PUBLIC_TESTS)]
