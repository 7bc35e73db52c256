"""benchmarks/grade_batch.py's parts, without grading: the batch it builds from the corpora and
the watcher's checks of files and processes. (The benchmark itself runs grade-all for minutes.)"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
import zipfile
from collections import Counter

import pytest

from cnnkit.paths import KIT_ROOT

sys.path.insert(0, str(KIT_ROOT / "benchmarks"))
from batch_submissions import BREAKERS, MODEL_EVERY, build_batch, recipes  # noqa: E402
from batch_watch import descendants, torn_csv, torn_grade  # noqa: E402

N = 30


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """(folder, student -> recipe, the model file given) for a batch of N."""
    folder = tmp_path_factory.mktemp("batch")
    model = folder / "trained.npz"
    model.write_bytes(b"stands for a trained model")
    return folder / "submissions", build_batch(folder / "submissions", N, model), model


def test_every_kind_in_turn_with_the_breakers_first(batch):
    _, students, _ = batch
    kinds = list(recipes())
    assert list(students) == sorted(students)  # grade-all's order is the build order
    assert Counter(r.kind for r in students.values()) == {kind: N // len(kinds) for kind in kinds}
    tricks = [r.name for r in students.values() if r.kind == "trick"]
    assert tricks == list(BREAKERS[:len(tricks)])


def test_each_submission_is_what_its_recipe_says(batch):
    folder, students, _ = batch
    for student, recipe in students.items():
        path = folder / student
        if recipe.kind in ("correct", "known_wrong", "trick"):
            sources = "".join(p.read_text() for p in (path / "scratchcnn").glob("*.py"))
            assert sources.count(f"# --- corpus entry {recipe.name}:") == 1, student
        elif recipe.name == "fifo_model":
            assert stat.S_ISFIFO((path / "model.npz").lstat().st_mode)
        elif recipe.name == "fifo_in_package":
            assert stat.S_ISFIFO((path / "scratchcnn" / "notes.txt").lstat().st_mode)


def test_the_zips_fail_each_their_own_way(batch):
    folder, students, _ = batch
    archives = {r.name: folder / f"{s}.zip" for s, r in students.items()
                if r.name.startswith("zip")}
    assert set(archives) == {"zip_garbage", "zip_truncated", "zip_bad_crc", "zip_reference"}
    assert not zipfile.is_zipfile(archives["zip_garbage"])
    assert not zipfile.is_zipfile(archives["zip_truncated"])
    with zipfile.ZipFile(archives["zip_bad_crc"]) as bad:
        assert bad.testzip() == "scratchcnn/__init__.py"
    with zipfile.ZipFile(archives["zip_reference"]) as good:
        assert good.testzip() is None and "scratchcnn/conv.py" in good.namelist()


def test_one_folder_in_three_hands_in_the_model(batch):
    folder, students, model = batch
    folders = [s for s in students if (folder / s).is_dir()]
    with_model = [s for s in folders if (folder / s / "model.npz").is_file()]
    expected = [s for i, s in enumerate(folders) if i % MODEL_EVERY == 0
                and students[s].name != "fifo_model"]
    assert with_model == expected
    assert all((folder / s / "model.npz").read_bytes() == model.read_bytes() for s in with_model)


@pytest.mark.parametrize("text, why", [
    ('{"student": "a", "total": 1, "max_total": 100, "bonus_max": 20, "phases": []}', None),
    ('{"student": "a", "total": 1, "max_', "not JSON"),
    ('{"student": "a"}', "lacks ['bonus_max', 'max_total', 'phases', 'total']"),
])
def test_torn_grade(text, why):
    result = torn_grade(text)
    assert result is None if why is None else result.startswith(why)


@pytest.mark.parametrize("text, why", [
    ("student,phase1,total\na,10,10\n", None),
    ("student,phase1,total\na,10", "no final newline"),
    ("student,phase1,total\na,10\n", "rows of widths [2, 3]"),
    ("", "no header row"),
])
def test_torn_csv(text, why):
    assert torn_csv(text) == why


def test_descendants_include_grandchildren():
    code = ("import subprocess, sys, time; "
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
            "time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 30
        while len(descendants(child.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        tree = descendants(child.pid)
        assert tree[0] == child.pid and len(tree) == 2
        assert set(tree) <= set(descendants(os.getpid()))
    finally:
        for pid in reversed(descendants(child.pid)):
            os.kill(pid, signal.SIGKILL)
        child.wait()
