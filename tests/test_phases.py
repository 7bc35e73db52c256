import pytest

from cnnkit.phases import MAX_TOTAL, PHASES, phase, task_owner


def test_phases_are_numbered_one_to_nine_with_unique_names():
    assert [p.number for p in PHASES] == list(range(1, 10))
    assert len({p.name for p in PHASES}) == len(PHASES)
    assert MAX_TOTAL == sum(p.points for p in PHASES) == 100


def test_every_task_has_one_owner():
    tasks = [t for p in PHASES for t in p.tasks]
    assert len(tasks) == len(set(tasks))
    assert task_owner("pool.py::max_pool_backward").number == 5
    assert task_owner("layers.py::Conv2D.forward").number == 8


def test_stub_message_names_phase_function_and_file():
    assert phase(2).stub_message("conv.py::im2col") == (
        "Phase 2 (im2col and fast convolution): implement im2col in scratchcnn/conv.py")


def test_unknown_phase_and_task_are_clear_errors():
    with pytest.raises(ValueError, match=r"phase must be one of 1..9 \(got 12\)"):
        phase(12)
    with pytest.raises(KeyError, match="conv.py::nope is not a task"):
        task_owner("conv.py::nope")
