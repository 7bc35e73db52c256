import pytest

from cnnkit.compare import CHOICES, compare
from cnnkit.paths import KIT_ROOT
from cnnkit.phases import PHASES

from test_check import line_of


def test_every_task_of_every_phase_can_be_compared():
    assert {task.split("::")[1] for p in PHASES for task in p.tasks} == set(CHOICES)


@pytest.mark.parametrize("function", CHOICES)
def test_reference_matches_itself_everywhere(function):
    results = compare(function, KIT_ROOT / "solutions")
    assert results and all(difference is None for _, difference in results), results


def test_stub_is_reported_not_started():
    results = compare("im2col", KIT_ROOT / "assignments")
    assert all(d.startswith("not started: Phase 2") for _, d in results)


def test_bug_shows_first_difference(reference_copy, replace_in):
    # A classic: every window's gradient routed to its top-left corner, not to its maximum.
    replace_in(reference_copy / "scratchcnn" / "pool.py",
               "        mask = view == out\n",
               "        mask = view == view if not masks else out != out\n")
    results = dict(compare("max_pool_backward", reference_copy))
    difference = results["x (1, 1, 4, 4), size=2, stride=2, dout (1, 1, 2, 2) "
                         "(ties and plateaus)"]
    assert difference.startswith("dx at index [0, 0, ")


def test_relu_at_zero_is_compared_as_check_tests_it(reference_copy, replace_in):
    # The cache becomes x itself, and the backward lets the gradient through at x == 0.
    replace_in(reference_copy / "scratchcnn" / "layers.py", "    return out, out > 0\n",
               "    return out, x\n")
    replace_in(reference_copy / "scratchcnn" / "layers.py", "    return dout * cache\n",
               "    return dout * (cache >= 0)\n")
    results = compare("relu_backward", reference_copy)
    assert all(d is not None and d.startswith("dx at index") for _, d in results)


def test_outputs_are_named_as_the_docstring_names_them(reference_copy, replace_in):
    replace_in(reference_copy / "scratchcnn" / "model.py", "            p -= self.lr * v\n",
               "            p -= self.lr * grads[name]\n")
    results = compare("SGD.step", reference_copy)
    assert results[0][1] is None  # without momentum the two agree
    assert results[1][1].startswith("params['0.b'] after 3 steps at index [")


def test_train_epoch_that_ignores_lr_schedule_is_caught(reference_copy, replace_in):
    replace_in(reference_copy / "scratchcnn" / "train.py", "        if lr_schedule is not None:\n"
               "            optimizer.lr = lr_schedule(step)\n", "")
    [(_, difference)] = compare("train_epoch", reference_copy)
    assert difference == "your train_epoch called lr_schedule 0 times in 3 steps (once a step)"


def test_an_exception_names_the_students_line(reference_copy, replace_in):
    replace_in(reference_copy / "scratchcnn" / "layers.py", "    return x.reshape(x.shape[0], -1), x\n",
               "    return x.reshape(x.shape[0], x.shape[1]), x\n")
    results = compare("flatten_forward", reference_copy)
    line = line_of(reference_copy / "scratchcnn" / "layers.py", "x.reshape(x.shape[0], x.shape[1])")
    assert f"in your scratchcnn/layers.py, line {line}, in flatten_forward: return x.reshape(" \
        in results[1][1]


def test_a_package_that_does_not_import_is_one_case_with_its_line(reference_copy, replace_in):
    replace_in(reference_copy / "scratchcnn" / "conv.py", "def pad_hw(x, padding):",
               "def pad_hw(x, padding)")
    [(case, difference)] = compare("im2col", reference_copy)
    assert case == "importing your scratchcnn"
    assert difference.startswith("raised SyntaxError: expected ':' (conv.py, line ")
    assert "in your scratchcnn/conv.py, line " in difference


def test_pooling_is_compared_in_the_suites_regimes(reference_copy, replace_in):
    # The classic: the running maximum starts at 0, so an all-negative window gives 0.
    replace_in(reference_copy / "scratchcnn" / "pool.py", "    out = views[0].copy(order=\"K\")\n",
               "    out = np.maximum(views[0], 0)\n")
    results = dict(compare("max_pool_forward", reference_copy))
    wrong = [case for case, difference in results.items() if difference is not None]
    assert any(case.endswith("(all-negative)") for case in wrong), results
