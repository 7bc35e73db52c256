"""Shared fixtures of the kit's own tests."""

import os
import shutil
import sys
from pathlib import Path

import pytest

from cnnkit.data import ENV_VAR, FILES
from cnnkit.parallel import DataParallel, ProcessParallel, can_fork
from cnnkit.paths import KIT_ROOT
from mnist_source import locate_mnist
from sandbox_rules import pytest_report_header, pytest_runtest_makereport  # noqa: F401 - hooks

# The reference, importable as `scratchcnn` in the kit's own tests.
sys.path.insert(0, str(KIT_ROOT / "solutions"))


@pytest.fixture(scope="session", autouse=True)
def user_state(tmp_path_factory):
    """No test writes into the user's state folder (MNIST's checksum notes, see
    cnnkit.data.mnist): the session's own, inherited by the commands the tests start."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
        yield


@pytest.fixture(autouse=True)
def fresh_user_state(monkeypatch, tmp_path_factory):
    """Each test starts with no checksum notes: a note it checks is not one an earlier test took."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


@pytest.fixture
def reference_copy(tmp_path) -> Path:
    """A scratch copy of the reference (a folder holding scratchcnn/) to break on purpose."""
    shutil.copytree(KIT_ROOT / "solutions" / "scratchcnn", tmp_path / "scratchcnn")
    return tmp_path


@pytest.fixture
def replace_in():
    """Edit a copied source file, failing loudly if `old` is not there exactly once."""

    def replace(path: Path, old: str, new: str) -> None:
        text = path.read_text()
        assert text.count(old) == 1, f"{path.name}: expected one {old!r}"
        path.write_text(text.replace(old, new))

    return replace


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The MNIST folder: $CNNKIT_DATA, else the team's shared copy beside the checkout, else the
    per-user cache, downloaded into on first use (tests/mnist_source.py)."""
    folder, source = locate_mnist()
    missing = [s.filename for s in FILES if not (folder / s.filename).is_file()]
    assert not missing, f"the MNIST folder {folder} (from {source}) lacks {', '.join(missing)}"
    os.environ[ENV_VAR] = str(folder)  # the grader's Phase 9 and `cnnkit train` read it there
    return folder


@pytest.fixture(scope="session")
def fashion_dir() -> Path:
    """The Debian package's Fashion-MNIST folder (CI installs it: `make system-deps`)."""
    from cnnkit.data import get_dataset

    entry = get_dataset("fashion")
    folder = entry.system_dirs[0]
    missing = [s.filename for s in entry.files if not (folder / s.filename).is_file()]
    if missing:
        pytest.skip(f"Fashion-MNIST is not installed in {folder} (no {', '.join(missing)}): "
                    "`make system-deps` installs the Debian package dataset-fashion-mnist")
    return folder


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory, mnist_dir) -> Path:
    """The output folder of one default `cnnkit train` of the reference on full MNIST (slow)."""
    from cnnkit.cli import main

    out = tmp_path_factory.mktemp("reference-run")
    assert main(["train", "--data", str(mnist_dir), "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(params=[DataParallel, pytest.param(ProcessParallel, marks=pytest.mark.skipif(
    not can_fork(), reason="worker processes need fork (Linux)"))])
def wrapper(request):
    """Each data-parallel wrapper of cnnkit.parallel (threads, worker processes)."""
    return request.param
