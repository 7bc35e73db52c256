import pytest

from cnnkit.phases import (BONUS_PHASES, BONUS_TOTAL, CORE_PHASES, MAX_TOTAL, PHASES, phase,
                           suspects, task_owner)


def test_nine_core_phases_then_the_bonus_phases_with_unique_names():
    assert [p.number for p in PHASES] == list(range(1, len(PHASES) + 1))
    assert [p.number for p in CORE_PHASES] == list(range(1, 10))
    assert PHASES == CORE_PHASES + BONUS_PHASES  # the bonus phases come last
    assert len({p.name for p in PHASES}) == len(PHASES)
    assert MAX_TOTAL == sum(p.points for p in CORE_PHASES) == 100
    assert BONUS_TOTAL == sum(p.points for p in BONUS_PHASES) > 0


def test_labels_say_which_phases_are_extra_credit():
    assert (phase(3).label, phase(3).worth) == ("Phase 3", "15 points")
    assert (phase(10).label, phase(10).worth) == ("Bonus phase 10", "5 extra-credit points")


def test_every_task_has_one_owner():
    tasks = [t for p in PHASES for t in p.tasks]
    assert len(tasks) == len(set(tasks))
    assert task_owner("pool.py::max_pool_backward").number == 5
    assert task_owner("layers.py::Conv2D.forward").number == 8


def test_stub_message_names_phase_function_and_file():
    assert phase(2).stub_message("conv.py::im2col") == (
        "Phase 2 (im2col and fast convolution): implement im2col in scratchcnn/conv.py")


def test_unknown_phase_and_task_are_clear_errors():
    with pytest.raises(ValueError, match=rf"phase must be one of 1..{len(PHASES)} \(got 99\)"):
        phase(99)
    with pytest.raises(KeyError, match="conv.py::nope is not a task"):
        task_owner("conv.py::nope")


def test_suspects_are_the_failing_earlier_phases_whose_code_runs():
    from cnnkit.autograder.suites import test_phase3, test_phase8, test_phase13

    assert suspects(5, {4, 5}).startswith("Phase 4 (max-pool forward) fails too")
    assert suspects(5, {5}) == "" and suspects(4, {1, 2, 3, 4}) == ""
    assert suspects(9, {1, 4, 8, 9}).startswith(
        "Phases 4 (max-pool forward) and 8 (conv/pool layers, CNN model and SGD) fail too")
    # The grader serves some earlier code from the reference: that code can't be the cause.
    assert suspects(3, {2, 3}, test_phase3.PATCHES).startswith("Phase 2 ")  # conv2d_forward runs
    assert suspects(8, {2, 4, 7, 8}, test_phase8.PATCHES) == ""
    assert suspects(13, {7, 8, 13}, test_phase13.PATCHES) == ""
    assert suspects(13, {8, 13}).startswith("Phase 8 ")  # locally, its Conv2D runs
