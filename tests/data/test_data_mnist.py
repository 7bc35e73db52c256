"""cnnkit.data.mnist: loading and validating MNIST folders, resolution order, conversions."""

from __future__ import annotations

import gzip
import hashlib
import re
import shutil
import sys
import warnings

import numpy as np
import pytest

from cnnkit.data import (
    ENV_VAR,
    FILES,
    MNIST,
    ChecksumWarning,
    IdxError,
    default_cache_dir,
    load_mnist,
    read_mnist_file,
    resolve_data_dir,
    to_nchw_float,
    verify_mnist,
)
from cnnkit.data.mnist import TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS


def load_recording(*args, **kwargs) -> tuple[MNIST, list[warnings.WarningMessage]]:
    """load_mnist, returning also every ChecksumWarning it emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mnist = load_mnist(*args, **kwargs)
    return mnist, [w for w in caught if issubclass(w.category, ChecksumWarning)]


@pytest.fixture(scope="module")
def real(mnist_dir, tmp_path_factory) -> tuple[MNIST, list[warnings.WarningMessage]]:
    """The real shared folder, loaded once for the module (with no checksum notes taken yet)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
        return load_recording(mnist_dir, download=False)


def test_real_folder_shapes_dtypes_and_ranges(real, mnist_dir):
    mnist, _ = real
    assert mnist.folder == mnist_dir
    assert (mnist.x_train.shape, mnist.x_train.dtype) == ((60000, 28, 28), np.uint8)
    assert (mnist.y_train.shape, mnist.y_train.dtype) == ((60000,), np.int64)
    assert (mnist.x_test.shape, mnist.x_test.dtype) == ((10000, 28, 28), np.uint8)
    assert (mnist.y_test.shape, mnist.y_test.dtype) == ((10000,), np.int64)
    for y in (mnist.y_train, mnist.y_test):
        assert set(np.unique(y)) == set(range(10))
    # real digits: black background, white strokes
    assert mnist.x_train[:, 0, 0].max() == 0 and mnist.x_train.max() == 255


def test_real_folder_warns_for_unofficial_files_only(real, mnist_dir, served_md5, unofficial):
    _, caught = real
    assert len(caught) == len(unofficial)
    official = {s.filename: s.md5 for s in FILES}
    for name, warning in zip(unofficial, caught, strict=True):
        message = str(warning.message)
        assert message.startswith(f"{mnist_dir / name}: md5 {served_md5[name]} differs from the "
                                  f"official {official[name]}")
        assert warning.filename == __file__  # points at the caller of load_mnist


def test_arrays_are_read_only(real):
    mnist, _ = real
    for array in (mnist.x_train, mnist.y_train, mnist.x_test, mnist.y_test):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 1


def test_labels_match_the_label_file_bytes(real, mnist_bytes):
    mnist, _ = real
    raw = gzip.decompress(mnist_bytes[TEST_LABELS.filename])
    np.testing.assert_array_equal(mnist.y_test, np.frombuffer(raw[8:], np.uint8))


def test_to_nchw_float(real):
    x = real[0].x_test[:50]
    out = to_nchw_float(x)
    assert out.shape == (50, 1, 28, 28) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, 0] * np.float32(255), x.astype(np.float32))
    assert to_nchw_float(x, np.float64).dtype == np.float64


@pytest.mark.parametrize("images, error, message", [
    (np.zeros((2, 1, 28, 28), np.uint8), ValueError,
     "images must be 3-D (N, H, W) (got shape (2, 1, 28, 28))"),
    (np.zeros((2, 28, 28), np.float32), TypeError, "images must be uint8 (got float32)"),
])
def test_to_nchw_float_rejects_bad_input(images, error, message):
    with pytest.raises(error, match=re.escape(message)):
        to_nchw_float(images)


def test_read_mnist_file_wrong_count(tmp_path, make_idx):
    path = tmp_path / TRAIN_LABELS.filename
    path.write_bytes(gzip.compress(make_idx(np.zeros(59999, np.uint8))))
    with pytest.raises(IdxError, match=re.escape(f"{path}: shape must be (60000,) (got (59999,))")):
        read_mnist_file(path, TRAIN_LABELS)


def test_read_mnist_file_wrong_image_size(tmp_path, make_idx):
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(make_idx(np.zeros((10000, 28, 27), np.uint8)))
    spec = FILES[2]
    message = f"{path}: shape must be (10000, 28, 28) (got (10000, 28, 27))"
    with pytest.raises(IdxError, match=re.escape(message)):
        read_mnist_file(path, spec)


def test_read_mnist_file_label_out_of_range(tmp_path, make_idx):
    labels = np.arange(10000, dtype=np.uint8) % 10
    labels[[7, 9000]] = [12, 10]
    path = tmp_path / TEST_LABELS.filename
    path.write_bytes(gzip.compress(make_idx(labels)))
    message = f"{path}: labels must be in 0..9 (got 12 at index 7, 2 such labels)"
    with pytest.raises(IdxError, match=re.escape(message)):
        read_mnist_file(path, TEST_LABELS)


def test_read_mnist_file_labels_where_images_expected(tmp_path, make_idx):
    path = tmp_path / TRAIN_IMAGES.filename
    path.write_bytes(gzip.compress(make_idx(np.zeros(60000, np.uint8))))
    with pytest.raises(IdxError, match=re.escape(f"{path}: magic number must be 2051 (got 2049)")):
        read_mnist_file(path, TRAIN_IMAGES)


@pytest.mark.filterwarnings("ignore::cnnkit.data.ChecksumWarning")  # train-images, read first
def test_local_folder_with_truncated_file_names_it(tmp_path, mnist_dir, mnist_bytes, linked_mnist):
    folder = linked_mnist(mnist_dir, tmp_path, skip=(TEST_LABELS.filename,))
    data = mnist_bytes[TEST_LABELS.filename]
    (folder / TEST_LABELS.filename).write_bytes(data[: len(data) - 100])
    with pytest.raises(IdxError, match=re.escape(f"{folder / TEST_LABELS.filename}: truncated gzip data")):
        load_mnist(folder)


def test_local_checksum_mismatch_is_a_warning_not_an_error(tmp_path, mnist_dir, mnist_bytes,
                                                          linked_mnist, unofficial):
    # Same labels, recompressed: structurally valid, md5 differs from the official file.
    folder = linked_mnist(mnist_dir, tmp_path, skip=(TEST_LABELS.filename,))
    recompressed = gzip.compress(gzip.decompress(mnist_bytes[TEST_LABELS.filename]), mtime=0)
    (folder / TEST_LABELS.filename).write_bytes(recompressed)
    mnist, caught = load_recording(folder)
    assert sorted(str(w.message).split(":")[0] for w in caught) == sorted(
        str(folder / name) for name in {*unofficial, TEST_LABELS.filename})
    assert any(hashlib.md5(recompressed).hexdigest() in str(w.message) for w in caught)
    assert mnist.y_test.shape == (10000,)


def test_a_checksum_note_is_given_once_per_file(tmp_path, mnist_dir, mnist_bytes, linked_mnist,
                                                unofficial):
    folder = linked_mnist(mnist_dir, tmp_path, skip=(TEST_LABELS.filename,))
    recompressed = gzip.compress(gzip.decompress(mnist_bytes[TEST_LABELS.filename]), mtime=0)
    (folder / TEST_LABELS.filename).write_bytes(recompressed)
    _, first = load_recording(folder)
    _, second = load_recording(folder)
    assert len(first) == len(unofficial) + 1 and "(noted once for this file)" in str(
        first[0].message)
    assert second == []
    # Another file at the same place is noted again.
    (folder / TEST_LABELS.filename).write_bytes(gzip.compress(gzip.decompress(
        mnist_bytes[TEST_LABELS.filename]), mtime=1))
    _, third = load_recording(folder)
    assert [str(w.message).split(":")[0] for w in third] == [str(folder / TEST_LABELS.filename)]


def test_missing_files_are_listed(tmp_path, mnist_dir, linked_mnist):
    folder = linked_mnist(mnist_dir, tmp_path, skip=(TRAIN_LABELS.filename, TEST_LABELS.filename))
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"MNIST folder {folder} (from data_dir) lacks {TRAIN_LABELS.filename}, {TEST_LABELS.filename}")):
        load_mnist(folder)


def test_uncompressed_files_are_accepted(tmp_path, real, mnist_dir, mnist_bytes, linked_mnist,
                                        unofficial):
    folder = linked_mnist(mnist_dir, tmp_path, skip=tuple(s.filename for s in FILES[1:]))
    for spec in FILES[1:]:
        (folder / spec.raw_filename).write_bytes(gzip.decompress(mnist_bytes[spec.filename]))
    mnist, caught = load_recording(folder)
    kept_gz_unofficial = TRAIN_IMAGES.filename in unofficial
    assert len(caught) == kept_gz_unofficial  # the official md5s are of .gz files only
    np.testing.assert_array_equal(mnist.x_test, real[0].x_test)
    np.testing.assert_array_equal(mnist.y_train, real[0].y_train)
    _, reports = verify_mnist(folder)
    assert [r.path.name for r in reports] == [FILES[0].filename] + [s.raw_filename for s in FILES[1:]]
    assert [r.md5_matches for r in reports] == [not kept_gz_unofficial, None, None, None]


def test_resolution_order(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "arg", cache) == (tmp_path / "arg", "data_dir")
    assert resolve_data_dir(None, cache) == (tmp_path / "env", ENV_VAR)
    monkeypatch.setenv(ENV_VAR, "")  # empty counts as unset
    assert resolve_data_dir(None, cache) == (cache, "cache")
    monkeypatch.delenv(ENV_VAR)
    assert resolve_data_dir(None, cache) == (cache, "cache")
    assert resolve_data_dir() == (default_cache_dir(), "cache")


def test_env_var_folder_is_loaded(monkeypatch, mnist_dir, tmp_path, unofficial):
    monkeypatch.setenv(ENV_VAR, str(mnist_dir))
    mnist, caught = load_recording(cache_dir=tmp_path, download=False)
    assert mnist.folder == mnist_dir and len(caught) == len(unofficial)


def test_env_var_folder_that_does_not_exist(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nope"))
    message = f"MNIST folder {tmp_path / 'nope'} (from CNNKIT_DATA) does not exist"
    with pytest.raises(FileNotFoundError, match=re.escape(message)):
        load_mnist()


def test_empty_cache_without_download(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(FileNotFoundError, match=r"\(from cache\) does not exist; run `cnnkit data download`"):
        load_mnist(cache_dir=tmp_path / "cache", download=False)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG layout is Linux's")
def test_default_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "cnnkit" / "mnist"


def test_local_folder_is_never_downloaded_into(tmp_path, mirror):
    with pytest.raises(FileNotFoundError, match="lacks"):
        load_mnist(tmp_path, download=True, mirrors=[mirror.url("good")], quiet=True)
    assert sum(mirror.hits.values()) == 0
    assert list(tmp_path.iterdir()) == []


def test_cache_downloads_only_missing_files(monkeypatch, tmp_path, mnist_dir, mirror, served_md5,
                                            unofficial):
    monkeypatch.delenv(ENV_VAR, raising=False)
    cache = tmp_path / "cache"
    cache.mkdir()
    # Pre-placed: train-images, and any file that would fail the official md5 if served.
    placed = {TRAIN_IMAGES.filename, *unofficial}
    for name in placed:
        shutil.copy(mnist_dir / name, cache)
    mnist, caught = load_recording(cache_dir=cache, mirrors=[mirror.url("good")], quiet=True)
    assert mnist.folder == cache and mnist.x_test.shape == (10000, 28, 28)
    assert dict(mirror.hits) == {("good", s.filename): 1 for s in FILES if s.filename not in placed}
    assert {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in cache.iterdir()} == served_md5
    assert len(caught) == len(unofficial)


def test_verify_reports(mnist_dir, served_md5, unofficial):
    folder, reports = verify_mnist(mnist_dir)
    assert folder == mnist_dir
    assert [r.path for r in reports] == [mnist_dir / s.filename for s in FILES]
    assert [r.shape for r in reports] == [s.shape for s in FILES]
    assert [r.md5 for r in reports] == [served_md5[s.filename] for s in FILES]
    assert [r.md5_matches for r in reports] == [s.filename not in unofficial for s in FILES]
    assert all(r.error is None for r in reports)
