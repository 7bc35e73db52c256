"""Where the kit's own tests get MNIST (tests/mnist_source.py): $CNNKIT_DATA, else the shared
folder beside the checkout, else the per-user cache, downloaded into through cnnkit.data. A
"fresh clone" is a folder with nothing beside it holding copies of the tests' support files; its
downloads are run in new interpreters with an empty home: mnist_source alone, then the clone's
own pytest with tests/conftest.py's `mnist_dir` fixture.

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


# Run in the fresh clone's pytest: the public mirrors (and their official md5s) replaced by the
# loopback mirror (and the md5s of the files it serves), as a machine online would see them.
LOOPBACK_PLUGIN = '''
import dataclasses, json, os
from cnnkit.data import DATASETS
md5s = json.loads(os.environ["LOOPBACK_MD5S"])
mnist = DATASETS["mnist"]
DATASETS["mnist"] = dataclasses.replace(
    mnist, mirrors=(os.environ["LOOPBACK_MIRROR"],),
    files=tuple(dataclasses.replace(s, md5=md5s[s.filename]) for s in mnist.files))
'''
PROBE_TEST = '''
import os
from cnnkit.data import load_mnist

def test_mnist_dir(mnist_dir):
    assert os.environ["CNNKIT_DATA"] == str(mnist_dir)
    assert load_mnist(mnist_dir, download=False).x_train.shape == (60000, 28, 28)
    print("mnist_dir:", mnist_dir)
'''


def test_a_fresh_clones_own_tests_get_mnist_from_the_mirrors(fresh_clone, tmp_path, mirror,
                                                              mnist_bytes, served_md5):
    tests = fresh_clone / "tests"
    for name in ("conftest.py", "sandbox_rules.py"):
        shutil.copy(MODULE.with_name(name), tests)
    (tests / "loopback_mirrors.py").write_text(LOOPBACK_PLUGIN)
    (tests / "test_probe.py").write_text(PROBE_TEST)
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), PYTHONPATH=str(tests),
               LOOPBACK_MIRROR=mirror.url("good"), LOOPBACK_MD5S=json.dumps(served_md5))
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "loopback_mirrors", "-p",
                          "no:cacheprovider", "-s", "-q", str(tests / "test_probe.py")],
                         cwd=fresh_clone, env=env, capture_output=True, text=True, timeout=300)
    cache = home / "data" / "cnnkit" / "mnist"
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"mnist_dir: {cache}\n" in run.stdout
    assert {p.name: p.read_bytes() for p in cache.iterdir()} == mnist_bytes
    assert dict(mirror.hits) == {("good", s.filename): 1 for s in FILES}
