"""`cnnkit handin`: what it refuses, what it leaves out, and that its zip grades in full."""

import zipfile

import numpy as np
import pytest

from cnnkit.autograder.grade import grade
from cnnkit.cli import main
from cnnkit.handin import build
from cnnkit.models import build_model, load_impl, save_model
from cnnkit.paths import KIT_ROOT
from cnnkit.submission import inspect_model

TASK_ZIP = {f"scratchcnn/{name}" for name in ("__init__.py", "_checks.py", "conv.py", "pool.py",
                                               "layers.py", "model.py", "train.py", "blocks.py")}


def test_fresh_release_says_what_is_missing_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "handin.zip"
    code = main(["handin", "--impl", "assignments", "--model", str(tmp_path / "model.npz"),
                 "-o", str(out), "--no-tests"])
    text = capsys.readouterr().out
    assert code == 1 and not out.exists()
    assert "Phase 1 (naive convolution, 10 points): still a stub: conv2d_forward_naive" in text
    assert "Phase 9 (training to 99% on MNIST, 15 points): still a stub: train_epoch" in text
    assert f"{tmp_path / 'model.npz'} is not a regular file" in text
    assert "10 problem(s) would lose points" in text


def test_incomplete_writes_the_partial_hand_in(tmp_path):
    out = tmp_path / "partial.zip"
    assert main(["handin", "--impl", "assignments", "--model", str(tmp_path / "none.npz"),
                 "-o", str(out), "--no-tests", "--incomplete"]) == 1
    assert set(zipfile.ZipFile(out).namelist()) == TASK_ZIP


def test_files_the_grader_ignores_are_left_out_with_a_warning(reference_copy, tmp_path):
    package = reference_copy / "scratchcnn"
    (package / "helpers.py").write_text("HELP = 1\n")
    (package / "notes.txt").write_text("todo\n")
    (package / "_checks.py").write_text((package / "_checks.py").read_text() + "# mine\n")
    hand_in = build(reference_copy, tmp_path / "missing.npz", run_tests=False)
    assert set(hand_in.files) == TASK_ZIP
    assert (KIT_ROOT / "solutions" / "scratchcnn" / "_checks.py").read_bytes() == \
        hand_in.files["scratchcnn/_checks.py"]  # the release's, not the edited one
    assert any(w.startswith("scratchcnn/helpers.py is left out") for w in hand_in.warnings)
    assert any(w.startswith("scratchcnn/notes.txt is left out") for w in hand_in.warnings)
    assert any(w.startswith("scratchcnn/_checks.py differs") for w in hand_in.warnings)
    assert len(hand_in.problems) == 1 and "missing.npz is not a regular file" in hand_in.problems[0]


def test_a_package_that_does_not_import_is_refused_with_its_line(reference_copy, tmp_path,
                                                                  replace_in):
    replace_in(reference_copy / "scratchcnn" / "train.py", "def evaluate(", "def evaluate(:")
    hand_in = build(reference_copy, tmp_path / "missing.npz", run_tests=False)
    assert any("your scratchcnn does not import" in p and "in your scratchcnn/train.py, line"
               in p for p in hand_in.problems)


def test_only_the_guides_architecture_is_accepted(tmp_path):
    path = tmp_path / "dense.npz"
    save_model(path, build_model(load_impl("solutions"), "dense", seed=0), {"kind": "dense"})
    report = inspect_model(KIT_ROOT / "solutions", path)
    assert report.problems == [f"{path} is not the guide's CNN (cnnkit train --model cnn): "
                               "the grader accepts only that architecture"]


def test_an_untrained_model_is_measured_and_flagged(tmp_path, mnist_dir, monkeypatch):
    monkeypatch.setenv("CNNKIT_DATA", str(mnist_dir))
    path = tmp_path / "model.npz"
    save_model(path, build_model(load_impl("solutions"), "cnn", seed=0), {"kind": "cnn"})
    report = inspect_model(KIT_ROOT / "solutions", path)
    assert report.agreement == 1.0 and report.accuracy < 0.5
    assert report.problems == []
    assert report.shortfalls == [f"test accuracy {report.accuracy:.2%} is below the 99% that "
                                 "Phase 9's full points need"]


@pytest.mark.slow
def test_hand_in_of_the_reference_and_its_model_gets_full_marks(reference_run, tmp_path, capsys):
    out = tmp_path / "handin.zip"
    assert main(["handin", "--impl", "solutions", "--model", str(reference_run / "model.npz"),
                 "-o", str(out)]) == 0
    assert "public tests: 13 of 13 phases pass" in capsys.readouterr().out
    assert set(zipfile.ZipFile(out).namelist()) == TASK_ZIP | {"model.npz"}
    result = grade(out)
    assert [p["status"] for p in result["phases"]] == ["passed"] * len(result["phases"])
    assert np.isclose(result["total"], result["max_total"] + result["bonus_max"])
