"""Where the kit's own tests get MNIST (tests/mnist_source.py): $CNNKIT_DATA, else the shared
folder beside the checkout, else the per-user cache, downloaded into through cnnkit.data.

The download runs against the loopback mirror serving the real files. On a fresh machine the
public mirrors serve the official files, checked against the official md5s (the default); here
the served files may include the team's reconstructed train-images, so the served md5s are given.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cnnkit.data import ENV_VAR, FILES
from mnist_source import SHARED_SOURCE, locate_mnist, shared_dir

MODULE = Path(__file__).resolve().parents[1] / "mnist_source.py"


@pytest.fixture
def fresh_user(monkeypatch, tmp_path) -> Path:
    """No $CNNKIT_DATA and an empty per-user data folder; returns where MNIST's cache will be."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "cnnkit" / "mnist"


@pytest.fixture
def fresh_clone(tmp_path) -> Path:
    """A checkout with nothing beside it: its tests/ holds a copy of mnist_source.py."""
    tests = tmp_path / "parent" / "clone" / "tests"
    tests.mkdir(parents=True)
    shutil.copy(MODULE, tests)
    return tests.parent


def test_env_var_comes_first(fresh_user, fresh_clone, linked_mnist, mnist_dir, monkeypatch, mirror):
    linked_mnist(mnist_dir, shared_dir(fresh_clone))
    monkeypatch.setenv(ENV_VAR, str(mnist_dir))
    assert locate_mnist(fresh_clone, mirrors=[mirror.url("good")]) == (mnist_dir, ENV_VAR)
    assert sum(mirror.hits.values()) == 0 and not fresh_user.exists()


def test_shared_folder_beside_the_checkout_comes_next(fresh_user, fresh_clone, linked_mnist,
                                                      mnist_dir, mirror):
    shared = linked_mnist(mnist_dir, shared_dir(fresh_clone))
    assert shared == fresh_clone.parent / "shared" / "data" / "mnist"
    assert locate_mnist(fresh_clone, mirrors=[mirror.url("good")]) == (shared, SHARED_SOURCE)
    assert sum(mirror.hits.values()) == 0 and not fresh_user.exists()


def test_incomplete_shared_folder_falls_back_to_the_cache(fresh_user, fresh_clone, linked_mnist,
                                                          mnist_dir, mirror, mnist_bytes,
                                                          served_md5):
    linked_mnist(mnist_dir, shared_dir(fresh_clone), skip=(FILES[3].filename,))
    found = locate_mnist(fresh_clone, mirrors=[mirror.url("good")], md5s=served_md5)
    assert found == (fresh_user, "cache")
    assert {p.name: p.read_bytes() for p in fresh_user.iterdir()} == mnist_bytes


def locate_in_fresh_clone(clone: Path, mirror_url: str, md5s: dict[str, str],
                          home: Path) -> subprocess.CompletedProcess:
    """Run the clone's own mnist_source.locate_mnist in a new interpreter, as a newcomer's
    `make test` would: no $CNNKIT_DATA, an empty home and per-user data folder."""
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import mnist_source; "
            "folder, source = mnist_source.locate_mnist(mirrors=[sys.argv[2]], "
            "md5s=json.loads(sys.argv[3])); print(folder, source)")
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share"))
    return subprocess.run([sys.executable, "-c", code, str(clone / "tests"), mirror_url,
                           json.dumps(md5s)], env=env, capture_output=True, text=True, timeout=120)


def test_fresh_clone_downloads_into_the_user_cache_checked_and_atomically(
        fresh_clone, tmp_path, mirror, mnist_bytes, served_md5):
    home = tmp_path / "home"
    cache = home / ".local" / "share" / "cnnkit" / "mnist"

    cut = locate_in_fresh_clone(fresh_clone, mirror.url("cutoff"), served_md5, home)
    assert cut.returncode != 0
    assert f"invalid file: {FILES[0].filename}: truncated gzip data" in cut.stderr
    bad = locate_in_fresh_clone(fresh_clone, mirror.url("restamped"), served_md5, home)
    assert bad.returncode != 0
    assert f"checksum mismatch: expected md5 {served_md5[FILES[0].filename]}" in bad.stderr
    assert list(cache.iterdir()) == []  # no partial or unchecked file, no temporary left over

    good = locate_in_fresh_clone(fresh_clone, mirror.url("good"), served_md5, home)
    assert good.returncode == 0, good.stderr
    assert good.stdout == f"{cache} cache\n"
    assert {p.name: p.read_bytes() for p in cache.iterdir()} == mnist_bytes
    first = FILES[0].filename  # each failed run stopped at the first file
    assert dict(mirror.hits) == {("cutoff", first): 1, ("restamped", first): 1,
                                 **{("good", s.filename): 1 for s in FILES}}

    again = locate_in_fresh_clone(fresh_clone, mirror.url("good"), served_md5, home)
    assert again.stdout == good.stdout
    assert sum(mirror.hits.values()) == 2 + len(FILES)  # a second run downloads nothing
