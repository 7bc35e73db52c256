"""cnnkit.data with dataset="fashion": the Debian package's files, where they are looked for,
checksums of recompressed and uncompressed files, downloads from a loopback mirror (the CLI's
--dataset option: test_data_cli.py).

The real files come from the Debian package dataset-fashion-mnist (/usr/share/datasets/
fashion-mnist; `make system-deps` installs it); without it these tests are skipped.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import sys
import warnings

import numpy as np
import pytest

from cnnkit.data import (
    ChecksumError,
    ChecksumWarning,
    IdxError,
    default_cache_dir,
    download_mnist,
    get_dataset,
    load_mnist,
    resolve_data_dir,
    verify_mnist,
)

FASHION = get_dataset("fashion")
TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = FASHION.files
FAST = dict(retries=0, timeout=5.0, backoff=0.0, quiet=True)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def load_strictly(*args, **kwargs):
    """load_mnist with every ChecksumWarning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ChecksumWarning)
        return load_mnist(*args, **kwargs)


# --- the Debian package's files ----------------------------------------------------------------


def test_the_debian_folder_is_found_and_loaded(monkeypatch, tmp_path, fashion_dir):
    monkeypatch.delenv(FASHION.env_var, raising=False)
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path / "mnist-only"))  # MNIST's variable: ignored
    assert resolve_data_dir(cache_dir=tmp_path, dataset="fashion") == (fashion_dir, "system")
    fashion = load_strictly(cache_dir=tmp_path, download=False, dataset="fashion")
    assert fashion.folder == fashion_dir and fashion.dataset is FASHION
    assert (fashion.x_train.shape, fashion.x_train.dtype) == ((60000, 28, 28), np.uint8)
    assert (fashion.x_test.shape, fashion.y_test.dtype) == ((10000, 28, 28), np.int64)
    # Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class.
    assert np.bincount(fashion.y_train).tolist() == [6000] * 10
    assert np.bincount(fashion.y_test).tolist() == [1000] * 10
    with pytest.raises(ValueError, match="read-only"):
        fashion.y_train[0] = 1
    assert list(tmp_path.iterdir()) == []  # nothing downloaded or cached


def test_the_debian_files_are_the_official_data_recompressed(fashion_dir, fashion_bytes):
    folder, reports = verify_mnist(fashion_dir, dataset="fashion")
    assert folder == fashion_dir
    for spec, report in zip(FASHION.files, reports, strict=True):
        data = fashion_bytes[spec.filename]
        official = md5(data) == spec.md5 or md5(gzip.decompress(data)) == spec.raw_md5
        assert (report.error, report.md5, report.shape) == (None, md5(data), spec.shape)
        assert report.md5_matches is official is True, spec.filename


# --- where the files are looked for ------------------------------------------------------------


def test_resolution_order(system_dirs, monkeypatch, tmp_path, fashion_dir, linked_mnist, make_idx):
    missing = linked_mnist(fashion_dir, tmp_path / "missing", skip=(TEST_LABELS.filename,))
    wrong = linked_mnist(fashion_dir, tmp_path / "wrong", skip=(TRAIN_LABELS.filename,))
    (wrong / TRAIN_LABELS.filename).write_bytes(gzip.compress(make_idx(np.zeros(59999, np.uint8))))
    good = linked_mnist(fashion_dir, tmp_path / "good")
    cache = tmp_path / "cache"
    system_dirs(missing, wrong, good)
    assert resolve_data_dir(tmp_path / "arg", cache, dataset="fashion") == (tmp_path / "arg", "data_dir")
    assert resolve_data_dir(None, cache, dataset="fashion") == (good, "system")
    monkeypatch.setenv(FASHION.env_var, str(tmp_path / "env"))
    assert resolve_data_dir(None, cache, dataset="fashion") == (tmp_path / "env", FASHION.env_var)
    assert resolve_data_dir(None, cache) == (cache, "cache")  # MNIST ignores it
    monkeypatch.setenv(FASHION.env_var, "")  # empty counts as unset
    system_dirs(missing, wrong)  # no folder holds the four files with the right headers
    assert resolve_data_dir(None, cache, dataset="fashion") == (cache, "cache")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG layout is Linux's")
def test_each_dataset_has_its_own_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_cache_dir("fashion") == tmp_path / "cnnkit" / "fashion-mnist"
    assert default_cache_dir() == tmp_path / "cnnkit" / "mnist"


def test_empty_cache_without_download_names_the_fashion_command(system_dirs, tmp_path):
    system_dirs()
    message = (f"Fashion-MNIST folder {tmp_path / 'cache'} (from cache) does not exist; run "
               f"`cnnkit data download --dataset fashion`")
    with pytest.raises(FileNotFoundError, match=re.escape(message)) as info:
        load_mnist(cache_dir=tmp_path / "cache", download=False, dataset="fashion")
    assert FASHION.env_var in str(info.value)


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match=re.escape("dataset must be one of 'mnist', 'fashion' "
                                                   "(got 'cifar')")):
        load_mnist(dataset="cifar")


# --- validation and checksums ------------------------------------------------------------------


def test_uncompressed_files_are_checked_against_the_published_md5(tmp_path, fashion_dir,
                                                                  fashion_bytes, linked_mnist):
    folder = linked_mnist(fashion_dir, tmp_path, skip=(TEST_LABELS.filename,))
    labels = gzip.decompress(fashion_bytes[TEST_LABELS.filename])
    (folder / TEST_LABELS.raw_filename).write_bytes(labels)
    assert verify_mnist(folder, dataset="fashion")[1][3].md5_matches is True
    # Valid labels, but not Fashion-MNIST's: the first ten swapped around.
    changed = labels[:8] + labels[8:18][::-1] + labels[18:]
    assert changed != labels
    (folder / TEST_LABELS.raw_filename).write_bytes(changed)
    with pytest.warns(ChecksumWarning) as caught:
        fashion = load_mnist(folder, dataset="fashion")
    assert [str(w.message) for w in caught] == [
        f"{folder / TEST_LABELS.raw_filename}: md5 {md5(changed)} differs from the official "
        f"{TEST_LABELS.raw_md5}; the file is structurally valid Fashion-MNIST and is used as is "
        f"(noted once for this file)"]
    np.testing.assert_array_equal(fashion.y_test[:10], np.frombuffer(labels, np.uint8, 10, 8)[::-1])
    assert verify_mnist(folder, dataset="fashion")[1][3].md5_matches is False


def test_a_truncated_file_is_named(tmp_path, fashion_dir, fashion_bytes, linked_mnist):
    folder = linked_mnist(fashion_dir, tmp_path, skip=(TRAIN_LABELS.filename,))
    data = fashion_bytes[TRAIN_LABELS.filename]
    (folder / TRAIN_LABELS.filename).write_bytes(data[: len(data) // 2])
    with pytest.raises(IdxError, match=re.escape(f"{folder / TRAIN_LABELS.filename}: truncated gzip")):
        load_mnist(folder, dataset="fashion")


# --- downloads from a loopback mirror ------------------------------------------------------------


def test_download_from_a_loopback_mirror(tmp_path, fashion_mirror, fashion_bytes):
    # The mirror serves the recompressed Debian files: the good path takes their md5s.
    served = {name: md5(data) for name, data in fashion_bytes.items()}
    dest = download_mnist(tmp_path / "dest", mirrors=[fashion_mirror.url("good")], md5s=served,
                          dataset="fashion", **FAST)
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == fashion_bytes
    assert dict(fashion_mirror.hits) == {("good", s.filename): 1 for s in FASHION.files}
    fashion = load_strictly(dest, dataset="fashion")  # the same content as the official files
    assert fashion.x_test.shape == (10000, 28, 28)


def test_download_checks_the_official_md5(tmp_path, fashion_mirror, fashion_bytes):
    with pytest.raises(ChecksumError) as info:
        download_mnist(tmp_path, mirrors=[fashion_mirror.url("good")], dataset="fashion", **FAST)
    served = md5(fashion_bytes[TRAIN_IMAGES.filename])
    assert f"expected md5 {TRAIN_IMAGES.md5}, got {served} (file not kept)" in str(info.value)
    assert FASHION.offline_hint in str(info.value)
    assert list(tmp_path.iterdir()) == []
