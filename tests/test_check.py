"""`cnnkit check` on the reference, on the fresh stubs, and on a copy with one bug."""

from cnnkit.check import run_public_tests, summarise
from cnnkit.paths import KIT_ROOT
from cnnkit.phases import PHASES, phase


def line_of(path, code):
    """The 1-based number of the line of `path` that holds `code`."""
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if code in line)


def check(impl, phases=PHASES):
    return {r.phase.number: r for r in summarise(run_public_tests(impl, list(phases)),
                                                 list(phases), impl)}


def test_reference_passes_every_phase():
    results = check(KIT_ROOT / "solutions")
    assert {n: r.status for n, r in results.items()} == {p.number: "passing" for p in PHASES}
    assert all(r.passed > 0 and r.skipped == 0 for r in results.values())


def test_fresh_release_is_not_started_in_every_phase():
    results = check(KIT_ROOT / "assignments")
    assert {n: r.status for n, r in results.items()} == {p.number: "not started" for p in PHASES}
    assert all(r.first_failure == "" for r in results.values())


def test_one_bug_fails_its_phase_with_index_expected_and_got(reference_copy, replace_in):
    # col2im overwrites instead of accumulating overlapping windows.
    replace_in(reference_copy / "scratchcnn" / "conv.py",
               "j:j + stride * Wo:stride] += cols6", "j:j + stride * Wo:stride] = cols6")
    results = check(reference_copy, [phase(2), phase(3)])
    assert results[2].status == "passing"
    assert results[3].status == "failing"
    assert results[3].first_failure == (
        "test_col2im_sums_overlaps: col2im(ones, 3x3 image, 2x2) dx: at index [0, 0, 0, 1] "
        "expected 2, got 1 (5 of 9 values differ)")


def test_phase_waiting_for_an_earlier_one(reference_copy, replace_in):
    """Pooling backward implemented but forward not: Phase 5's tests are skipped, not failed."""
    replace_in(reference_copy / "scratchcnn" / "pool.py",
               "    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1\n",
               "    raise NotImplementedError('Phase 4')\n")
    results = check(reference_copy, [phase(4), phase(5)])
    assert results[4].status == "not started"
    assert results[5].status == "waiting"
    assert "needs an earlier phase" in results[5].first_skip


def test_infinite_loop_fails_one_test_not_the_check(reference_copy, replace_in, monkeypatch):
    monkeypatch.setattr("cnnkit.check.PER_TEST_TIMEOUT", 2)
    replace_in(reference_copy / "scratchcnn" / "layers.py", "    return x.reshape(x.shape[0], -1), x\n",
               "    while True:\n        pass\n")
    results = check(reference_copy, [phase(6), phase(7)])
    assert results[6].status == "failing" and "Timeout" in results[6].first_failure
    assert results[7].status == "passing"


def test_an_exception_in_student_code_names_their_line(reference_copy, replace_in):
    # A max-pool forward that ignores its stride: NumPy raises deep inside the reduction.
    replace_in(reference_copy / "scratchcnn" / "pool.py",
               "    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1\n",
               "    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1\n"
               "    if stride > 1:\n        return x[:, :, :0, :0].max(axis=(2, 3)), None\n")
    result = check(reference_copy, [phase(4)])[4]
    line = line_of(reference_copy / "scratchcnn" / "pool.py", "return x[:, :, :0, :0]")
    assert result.status == "failing"
    assert result.where == (f"in your scratchcnn/pool.py, line {line}, in max_pool_forward: "
                            "return x[:, :, :0, :0].max(axis=(2, 3)), None")


def test_denominators_count_every_test_of_the_phase(reference_copy, replace_in):
    """A phase's total is the same whether its tests wait for an earlier phase or run."""
    full = check(KIT_ROOT / "solutions", [phase(5)])[5]
    replace_in(reference_copy / "scratchcnn" / "pool.py",
               "    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1\n",
               "    raise NotImplementedError('Phase 4')\n")
    waiting = check(reference_copy, [phase(5)])[5]
    assert waiting.skipped > 0
    assert waiting.passed + waiting.failed + waiting.skipped == full.passed


def test_phase9_looks_at_the_model_as_the_grader_will(tmp_path, mnist_dir, capsys):
    from cnnkit.cli import main
    from cnnkit.models import build_model, load_impl, save_model

    path = tmp_path / "model.npz"
    save_model(path, build_model(load_impl("solutions"), "cnn", seed=0), {"kind": "cnn"})
    assert main(["check", "9", "--impl", "solutions", "--model", str(path)]) == 1
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert f"Phase 9 hand-in ({path}):" in out
    assert "your forward gives the same logits on 100.00% of them" in out
    assert "would lose points: test accuracy" in out and "below the 99%" in out


def test_a_package_that_does_not_import_says_so_with_the_line(reference_copy, replace_in):
    replace_in(reference_copy / "scratchcnn" / "conv.py", "def pad_hw(x, padding):",
               "def pad_hw(x, padding)")
    line = line_of(reference_copy / "scratchcnn" / "conv.py", "def pad_hw(x, padding)")
    result = check(reference_copy, [phase(1)])[1]
    assert result.status == "does not import"
    assert result.first_failure == ("your scratchcnn does not import: SyntaxError: expected ':' "
                                    f"(conv.py, line {line})")
    assert result.where == f"in your scratchcnn/conv.py, line {line}, in <module>: " \
        "def pad_hw(x, padding)"


def test_a_phase_that_runs_a_failing_earlier_phase_says_to_fix_that_first(reference_copy,
                                                                          replace_in):
    # max_pool_forward steps by the window size: Phase 5's tests take their caches from it.
    replace_in(reference_copy / "scratchcnn" / "pool.py",
               "    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1\n",
               "    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1\n"
               "    stride = size\n")
    results = check(reference_copy, [phase(4), phase(5)])
    assert (results[4].status, results[5].status) == ("failing", "failing")
    assert results[4].suspects == ""
    assert results[5].suspects.startswith("Phase 4 (max-pool forward) fails too, and these tests "
                                          "run your code from it: fix it first")
