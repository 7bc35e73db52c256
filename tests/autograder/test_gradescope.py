"""The Gradescope autograder zip, run as Gradescope runs it, in a scratch copy of its layout.

setup.sh runs for real (a fresh venv, the kit installed from the zip) except for apt-get, which
CI does once for the whole run; run_autograder then grades a submission into results.json.
"""

import json
import os
import shutil
import subprocess
import zipfile

import pytest

from cnnkit.autograder.gradescope_zip import build
from cnnkit.paths import KIT_ROOT


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """/autograder with source/ unzipped and setup.sh run; returns (root, environment)."""
    root = tmp_path_factory.mktemp("gradescope") / "autograder"
    zip_path = root.parent / "autograder.zip"
    build(zip_path, phases=[1, 4, 9])
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
    for name in ("setup.sh", "run_autograder"):  # zipfile does not restore the mode bits
        (root / "source" / name).chmod(0o755)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "CNNKIT_SETUP_SKIP_APT": "1"}
    subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env, check=True,
                   timeout=900)
    return root, env


def run_autograder(root, env, submission):
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    shutil.copytree(submission, root / "submission")
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, check=True,
                   timeout=600)
    return json.loads((root / "results" / "results.json").read_text())


def test_reference_submission(autograder, tmp_path):
    root, env = autograder
    shutil.copytree(KIT_ROOT / "solutions" / "scratchcnn", tmp_path / "scratchcnn")
    results = run_autograder(root, env, tmp_path)
    tests = {t["number"]: t for t in results["tests"]}
    assert sorted(tests) == ["1", "4", "9"]
    assert tests["1"]["score"] == tests["1"]["max_score"] == 10
    assert tests["4"]["score"] == tests["4"]["max_score"] == 10
    # No model.npz handed in: the milestone's training test passes, its accuracy tests explain.
    training = 15 * (5 + 1) / 16  # its training and returned-statistics tests: 6 of 16 weights
    assert tests["9"]["score"] == pytest.approx(training, abs=0.01)
    assert "no model.npz next to scratchcnn/" in tests["9"]["output"]
    assert results["score"] == pytest.approx(20 + training, abs=0.01)


def test_stubs_submission(autograder):
    root, env = autograder
    results = run_autograder(root, env, KIT_ROOT / "assignments")
    assert results["score"] == 0
    assert all(t["score"] == 0 and "not started" in t["output"] for t in results["tests"])
