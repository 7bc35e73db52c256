"""`cnnkit audit` on a small fixed sample, so the tool keeps working (the full audit is not part
of the tests: it grades hundreds of mutants)."""

from __future__ import annotations

import ast

import pytest

from cnnkit import audit
from cnnkit.mutants import all_mutants, regions
from cnnkit.phases import PHASES

MUTANTS = all_mutants(audit.REFERENCE / "scratchcnn")
SEEDS = audit.BATTERY_SEEDS[:2]  # the battery's first two draws: enough to show it works


def find(phase, operator, removed):
    """The first mutant of `phase` by `operator` whose diff removes a line containing `removed`."""
    return next(m for m in MUTANTS if m.phase == phase and m.operator == operator
                and any(line.startswith("-") and removed in line for line in m.diff.splitlines()))


def test_every_phase_has_mutants_inside_its_solution_regions():
    assert {m.phase for m in MUTANTS} == {p.number for p in PHASES}
    for m in MUTANTS[::7]:
        reference = (audit.REFERENCE / "scratchcnn" / m.file).read_text().splitlines()
        changed = [i for i, (a, b) in enumerate(zip(reference, m.source.splitlines()), 1) if a != b]
        assert changed == [m.line], m.diff  # one line, the mutant's own
        assert any(a <= m.line <= b for a, b in regions("\n".join(reference))), m.ident
        ast.parse(m.source)


def test_sample_is_a_fixed_spread_per_phase():
    chosen = audit.sample(MUTANTS, 2)
    assert chosen == audit.sample(MUTANTS, 2)
    assert sorted(m.phase for m in chosen) == sorted(2 * [p.number for p in PHASES])


@pytest.fixture(scope="module")
def reference_scores():
    return audit.reference_scores([1], public=False)


def test_a_dropped_bias_is_killed(reference_scores):
    mutant = find(1, "dropped term", "+ b[f]")
    outcome = audit.judge(mutant, False, reference_scores)
    assert outcome.verdict == "killed" and outcome.detail.endswith("of 10"), outcome


def test_the_battery_sees_no_difference_in_a_reversed_loop(tmp_path):
    mutant = find(1, "reversed iteration", "for n in range(N)")
    assert audit.battery_difference(audit.copy_with(mutant, tmp_path), 1, mutant.ident,
                                    SEEDS) == ""


def test_the_battery_tells_a_wrong_mutant_apart(tmp_path):
    mutant = find(1, "dropped term", "+ b[f]")
    folder = audit.copy_with(mutant, tmp_path)
    assert "values differ" in audit.battery_difference(folder, 1, mutant.ident, SEEDS)


def test_public_tests_kill_a_dropped_bias():
    outcome = audit.judge(find(1, "dropped term", "+ b[f]"), True, {1: 1.0})
    assert outcome.verdict == "killed", outcome


def test_summary_scores_killed_over_non_equivalent():
    outcomes = [audit.Outcome(str(i), 1, "op", verdict, "", "")
                for i, verdict in enumerate(["killed", "killed", "equivalent", "survived"])]
    assert audit.summary(outcomes, [1]) == [{"phase": 1, "mutants": 4, "killed": 2,
                                             "equivalent": 1, "survived": 1, "score": 2 / 3}]
