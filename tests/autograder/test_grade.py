"""`cnnkit grade` and `cnnkit grade-all` on the reference, the stubs and broken submissions."""

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from cnnkit.autograder.batch import grade_all
from cnnkit.autograder.grade import grade, gradescope_results, total_line
from cnnkit.autograder.nbgrader.report import phase_report
from cnnkit.paths import KIT_ROOT
from cnnkit.phases import PHASES, phase

# Every phase but 9 (it needs a trained model: see the slow tests below).
GRADED = [p.number for p in PHASES if p.number != 9]


@pytest.fixture(scope="module")
def reference_grade():
    return grade(KIT_ROOT / "solutions", GRADED)


def test_reference_gets_full_marks(reference_grade):
    assert reference_grade["max_total"] == sum(
        p.points for p in PHASES if p.number in GRADED and not p.bonus)
    assert reference_grade["bonus_max"] == sum(p.points for p in PHASES if p.bonus)
    assert reference_grade["total"] == reference_grade["max_total"] + reference_grade["bonus_max"]
    assert {p["status"] for p in reference_grade["phases"]} == {"passed"}
    assert all(t["passed"] for p in reference_grade["phases"] for t in p["tests"])


def test_fresh_stubs_are_not_started_everywhere():
    result = grade(KIT_ROOT / "assignments", GRADED)
    assert result["total"] == 0
    assert [p["status"] for p in result["phases"]] == ["not_started"] * len(GRADED)
    assert all(p["feedback"].startswith(f"not started: Phase {p['phase']} ")
               for p in result["phases"])


def test_a_phase_waiting_for_an_earlier_stub_is_failed_with_the_reason(reference_copy, replace_in):
    """Phase 5 done, Phase 4 not: the cache comes from the student's own forward."""
    replace_in(reference_copy / "scratchcnn" / "pool.py",
               "    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1\n",
               "    raise NotImplementedError('Phase 4 (max-pool forward): implement it')\n")
    phase5 = grade(reference_copy, [5])["phases"][0]
    assert phase5["status"] == "failed"
    assert phase5["feedback"] == ("these tests need an earlier phase to run first: Phase 4 "
                                  "(max-pool forward): implement it")


def zipped(folder, zip_path, prefix=""):
    with zipfile.ZipFile(zip_path, "w") as archive:
        for path in sorted((folder / "scratchcnn").glob("*.py")):
            archive.write(path, f"{prefix}scratchcnn/{path.name}")
    return zip_path


def test_zip_with_a_top_folder_is_graded_like_the_folder(tmp_path):
    submission = zipped(KIT_ROOT / "solutions", tmp_path / "alice.zip", prefix="alice/")
    result = grade(submission, [4])
    assert result["phases"][0]["status"] == "passed"


def test_a_zip_slip_entry_refuses_the_submission(tmp_path):
    submission = zipped(KIT_ROOT / "solutions", tmp_path / "evil.zip")
    with zipfile.ZipFile(submission, "a") as archive:
        archive.writestr("../../escaped.txt", "outside")
    phase4 = grade(submission, [4])["phases"][0]
    assert (phase4["status"], phase4["score"]) == ("error", 0)
    assert phase4["feedback"] == "../../escaped.txt: an absolute path or '..' in the zip"
    assert not (tmp_path.parent / "escaped.txt").exists()


def hostile(kind: str, file: Path) -> None:
    """Make `file` a FIFO or a symlink to /dev/zero (issue 14: a hang, a MemoryError)."""
    file.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(file)
    else:
        os.symlink("/dev/zero", file)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["fifo", "dev_zero_symlink"])
def test_a_fifo_or_dev_zero_link_is_that_students_zero_with_a_reason(reference_copy, kind):
    hostile(kind, reference_copy / "scratchcnn" / "zz.py")
    result = grade(reference_copy, [4, 6])
    assert result["total"] == 0
    assert {p["status"] for p in result["phases"]} == {"error"}
    assert result["phases"][0]["feedback"].startswith(
        f"scratchcnn/zz.py: a {'FIFO' if kind == 'fifo' else 'symlink'}")


def test_phase9_without_mnist_is_a_grader_error_not_a_student_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path / "no-mnist-here"))
    phase9 = grade(KIT_ROOT / "solutions", [9])["phases"][0]
    assert phase9["status"] == "error" and phase9["score"] == 0
    assert "tell your instructor" in phase9["feedback"]


@pytest.mark.parametrize("content", ["not a package", None])
def test_submission_without_scratchcnn_is_an_error_with_a_reason(tmp_path, content):
    if content:
        (tmp_path / "main.py").write_text(content)
    result = grade(tmp_path, [1, 2])
    assert result["total"] == 0
    assert [p["status"] for p in result["phases"]] == ["error", "error"]
    assert "no scratchcnn/__init__.py" in result["phases"][0]["feedback"]


def test_gradescope_results_has_one_test_per_phase(reference_grade):
    results = gradescope_results(reference_grade)
    assert results["score"] == reference_grade["total"]
    assert [t["number"] for t in results["tests"]] == [str(n) for n in GRADED]
    assert results["tests"][-1]["name"].startswith(f"Bonus phase {GRADED[-1]}: ")
    assert all(t["score"] == t["max_score"] and t["status"] == "passed"
               for t in results["tests"])


@pytest.mark.parametrize("totals, line", [
    ((82.5, 100, 20), "82.5 of 100 points (bonus: up to 20 more)"),
    ((15, 15, 0), "15 of 15 points"),
    ((12.5, 0, 20), "12.5 of 20 extra-credit points"),
])
def test_total_line_counts_bonus_points_as_extra_credit(totals, line):
    assert total_line(dict(zip(("total", "max_total", "bonus_max"), totals))) == line


def test_grade_all_is_parallel_resumable_and_never_stopped_by_one_submission(tmp_path):
    subs = tmp_path / "submissions"
    subs.mkdir()
    shutil.copytree(KIT_ROOT / "solutions" / "scratchcnn", subs / "alice" / "scratchcnn")
    zipped(KIT_ROOT / "assignments", subs / "bob.zip")
    (subs / "carol").mkdir()  # nothing handed in
    out, results = tmp_path / "scores.csv", tmp_path / "grades"
    grades = grade_all(subs, out, results, jobs=2, numbers=[4, 6], progress=False)
    assert {s: g["total"] for s, g in grades.items()} == {"alice": 15, "bob": 0, "carol": 0}
    rows = out.read_text().splitlines()
    assert rows[0] == "student,phase4_pool_forward,phase6_flatten,total,max_total,bonus_max"
    assert rows[1] == "alice,10.0,5.0,15.0,15,0"
    stamps = {p.name: p.stat().st_mtime_ns for p in results.iterdir()}
    assert sorted(stamps) == ["alice.json", "bob.json", "carol.json"]

    shutil.copytree(KIT_ROOT / "solutions" / "scratchcnn", subs / "carol" / "scratchcnn")
    grades = grade_all(subs, out, results, jobs=2, numbers=[4, 6], progress=False)
    assert grades["carol"]["total"] == 15  # a late submission is graded on the rerun...
    after = {p.name: p.stat().st_mtime_ns for p in results.iterdir()}
    assert after["alice.json"] == stamps["alice.json"]  # ...the others are not graded again
    assert after["bob.json"] == stamps["bob.json"]
    assert json.loads((results / "carol.json").read_text())["student"] == "carol"
    assert not [name for name in os.listdir(results) if name.startswith(".")]


@pytest.mark.timeout(300)
def test_grade_all_goes_on_past_fifos_and_links(tmp_path):
    """Hostile entries inside a submission and as a submission: error rows, the batch ends."""
    subs = tmp_path / "submissions"
    for student in ("alice", "fifo_inside", "zero_inside"):
        shutil.copytree(KIT_ROOT / "solutions" / "scratchcnn", subs / student / "scratchcnn")
    hostile("fifo", subs / "fifo_inside" / "scratchcnn" / "zz.py")
    hostile("dev_zero_symlink", subs / "zero_inside" / "scratchcnn" / "conv.py")
    hostile("fifo", subs / "fifo_itself.zip")
    hostile("dev_zero_symlink", subs / "link_itself")
    (subs / "notes.txt").write_text("not a submission")
    out = tmp_path / "scores.csv"
    grades = grade_all(subs, out, tmp_path / "grades", jobs=2, numbers=[4], progress=False)
    assert {s: g["total"] for s, g in grades.items()} == {
        "alice": 10, "fifo_inside": 0, "zero_inside": 0, "fifo_itself": 0, "link_itself": 0}
    reasons = {s: g["phases"][0]["feedback"] for s, g in grades.items() if s != "alice"}
    assert reasons == {
        "fifo_inside": "scratchcnn/zz.py: a FIFO (named pipe); a submission may hold only "
                       "regular files and folders",
        "zero_inside": "scratchcnn/conv.py: a symlink; a submission may hold only regular "
                       "files and folders",
        "fifo_itself": "fifo_itself.zip: the submission is a FIFO (named pipe); hand in a "
                       "folder or a .zip file",
        "link_itself": "link_itself: the submission is a symlink; hand in a folder or a .zip "
                       "file"}
    assert len(out.read_text().splitlines()) == 6


def milestone_submission(folder, reference_run):  # reference_run needs mnist_dir: CNNKIT_DATA set
    """The reference's package and the model its default training saved."""
    shutil.copytree(KIT_ROOT / "solutions" / "scratchcnn", folder / "scratchcnn")
    shutil.copyfile(reference_run / "model.npz", folder / "model.npz")
    return folder


def only_training_counts(phase9: dict) -> list[dict]:
    """Check that the training tests passed and the accuracy tests failed, and that the score is
    the training tests' share; return the accuracy tests."""
    accuracy = [t for t in phase9["tests"] if "model.npz reaches" in t["name"]]
    training = [t for t in phase9["tests"] if t not in accuracy]
    assert accuracy and training
    assert all(t["passed"] for t in training) and not any(t["passed"] for t in accuracy)
    assert phase9["score"] == pytest.approx(sum(t["max_score"] for t in training), abs=0.02)
    return accuracy


@pytest.mark.slow
def test_reference_milestone_gets_full_marks(reference_run, tmp_path):
    phase9 = grade(milestone_submission(tmp_path, reference_run), [9])["phases"][0]
    assert (phase9["score"], phase9["status"]) == (15, "passed")


@pytest.mark.slow
def test_weights_trained_elsewhere_with_a_stub_training_loop_earn_nothing(reference_run, tmp_path,
                                                                          replace_in):
    submission = milestone_submission(tmp_path, reference_run)
    replace_in(submission / "scratchcnn" / "train.py", "    rng = np.random.default_rng(rng)\n",
               "    return {'loss': 0.0, 'accuracy': 1.0}\n")
    phase9 = grade(submission, [9])["phases"][0]
    assert phase9["score"] == 0
    assert "never called optimizer.step" in phase9["feedback"]


@pytest.mark.slow
def test_weights_loaded_after_real_training_earn_nothing(reference_run, tmp_path, replace_in):
    """The attack: train_epoch takes real steps, then writes a 99% model shipped inside
    scratchcnn/ into the model; with that model as model.npz too."""
    submission = milestone_submission(tmp_path, reference_run)
    shutil.copyfile(reference_run / "model.npz", submission / "scratchcnn" / "weights.npz")
    replace_in(submission / "scratchcnn" / "train.py",
               '    return {"loss": total_loss / len(x), "accuracy": total_correct / len(x)}',
               '    import os\n'
               '    with np.load(os.path.join(os.path.dirname(__file__), "weights.npz")) as saved:\n'
               '        for name, value in model.params.items():\n'
               '            value[...] = saved["param:" + name]\n'
               '    return {"loss": total_loss / len(x), "accuracy": total_correct / len(x)}')
    phase9 = grade(submission, [9])["phases"][0]
    assert phase9["score"] == 0
    assert "is not what training on the steps your code took gives" in phase9["feedback"]


@pytest.mark.slow
def test_a_forward_pass_that_recognises_a_few_test_images_earns_no_accuracy(
        reference_run, tmp_path, replace_in):
    """The attack: a forward pass that hashes its input and changes the answer for a few test
    images (one per chunk of the grader's), where the model is wrong."""
    submission = milestone_submission(tmp_path, reference_run)
    replace_in(submission / "scratchcnn" / "model.py",
               "        for layer in self.layers:\n            x = layer.forward(x)\n        return x",
               "        known = int(x.sum() * 1000) % len(x) if len(x) > 100 else None\n"
               "        for layer in self.layers:\n            x = layer.forward(x)\n"
               "        if known is not None:\n"
               "            x[known, x[known].argmin()] += 100.0\n"
               "        return x")
    accuracy = only_training_counts(grade(submission, [9])["phases"][0])
    assert "different logits on 40 of the 10,000 test images" in accuracy[0]["feedback"]


@pytest.mark.slow
def test_a_forward_pass_that_is_not_the_network_earns_no_accuracy(reference_run, tmp_path,
                                                                   replace_in):
    submission = milestone_submission(tmp_path, reference_run)
    replace_in(submission / "scratchcnn" / "model.py",
               "        for layer in self.layers:\n            x = layer.forward(x)\n        return x",
               "        for layer in self.layers:\n            x = layer.forward(x)\n"
               "        if len(x) > 100:  # the grader's test chunks: answer something else\n"
               "            x = x[::-1].copy()\n        return x")
    accuracy = only_training_counts(grade(submission, [9])["phases"][0])
    assert "different logits on" in accuracy[0]["feedback"]


def test_a_phase_running_a_failing_earlier_phase_names_it_first(reference_copy, replace_in):
    """max_pool_forward steps by the window size: Phase 5 takes its caches from it."""
    replace_in(reference_copy / "scratchcnn" / "pool.py",
               "    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1\n",
               "    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1\n"
               "    stride = size\n")
    result = grade(reference_copy, [4, 5])
    phase4, phase5 = result["phases"]
    blamed = "Phase 4 (max-pool forward) fails too, and these tests run your code from it"
    assert phase4["status"] != "passed" and not phase4["suspects"]
    assert phase5["status"] != "passed" and phase5["suspects"].startswith(blamed)
    assert phase5["feedback"].startswith(blamed)
    assert any(t["feedback"].startswith("Your max_pool_forward (Phase 4) is wrong on this input "
                                        "too (max_pool_backward gets its cache from it)")
               for t in phase5["tests"])
    assert gradescope_results(result)["tests"][1]["output"].startswith(blamed)
    assert blamed in phase_report(phase(5), phase5)
