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
    # The classic: ties routed to every maximum of the window instead of the first.
    replace_in(reference_copy / "scratchcnn" / "pool.py",
               "    first = k - ((by_offset == out) * priority).max(axis=0)",
               "    first = ((by_offset == out) * (k - priority)).max(axis=0)  # last max")
    results = dict(compare("max_pool_backward", reference_copy))
    assert results["x (1, 1, 4, 4) (integers 0..5, with ties), size=2, stride=2"].startswith(
        "first difference at index [0, 0, ")
