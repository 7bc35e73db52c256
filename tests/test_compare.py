import pytest

from cnnkit.compare import FUNCTIONS, compare
from cnnkit.paths import KIT_ROOT


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_reference_matches_itself_everywhere(function):
    results = compare(function, KIT_ROOT / "solutions")
    assert results and all(difference is None for _, difference in results)


def test_stub_is_reported_not_started():
    results = compare("im2col", KIT_ROOT / "assignments")
    assert all(d.startswith("not started: Phase 2") for _, d in results)


def test_bug_shows_first_difference(reference_copy, replace_in):
    # A classic: every window's gradient routed to its top-left corner, not to its maximum.
    replace_in(reference_copy / "scratchcnn" / "pool.py",
               "        mask = view == out\n",
               "        mask = view == view if not masks else out != out\n")
    results = dict(compare("max_pool_backward", reference_copy))
    assert results["x (1, 1, 4, 4) (integers 0..5, with ties), size=2, stride=2"].startswith(
        "first difference at index [0, 0, ")
