"""cnnkit.data.download and download_mnist against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import warnings

import pytest

import cnnkit.data.download as download_module
from cnnkit.data import (
    FILES,
    ChecksumError,
    ChecksumWarning,
    DownloadError,
    download_file,
    download_mnist,
    load_mnist,
)
from cnnkit.data.mnist import OFFLINE_HINT, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS, _validate_download

FAST = dict(retries=2, timeout=5.0, backoff=0.0, quiet=True)  # no waiting between retries in tests
LABELS = TEST_LABELS.filename  # 4.5 kB: the file most tests move around


def md5_of(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_good_download(tmp_path, mirror, mnist_bytes):
    path = download_file(LABELS, tmp_path / "new", [mirror.url("good")], md5=TEST_LABELS.md5, **FAST)
    assert path == tmp_path / "new" / LABELS
    assert path.read_bytes() == mnist_bytes[LABELS]
    assert [p.name for p in path.parent.iterdir()] == [LABELS]


def test_download_mnist_all_four_then_load(tmp_path, mirror, served_md5, unofficial):
    # The served files may include the team's reconstructed train-images: take the served md5s.
    dest = download_mnist(tmp_path, mirrors=[mirror.url("good")], md5s=served_md5, **FAST)
    assert {p.name: md5_of(p) for p in dest.iterdir()} == served_md5
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ChecksumWarning)
        mnist = load_mnist(dest)
    assert [str(w.message).split(":")[0] for w in caught] == [str(dest / n) for n in unofficial]
    assert mnist.x_train.shape == (60000, 28, 28)


def test_official_checksum_mismatch_is_an_error_and_nothing_is_kept(tmp_path, mirror, mnist_bytes,
                                                                  restamp):
    # A restamped gzip is valid and has the right content: only the md5 tells it from the official.
    with pytest.raises(ChecksumError) as info:
        download_mnist(tmp_path, mirrors=[mirror.url("restamped")], **FAST)
    message = str(info.value)
    served = hashlib.md5(restamp(mnist_bytes[TRAIN_IMAGES.filename])).hexdigest()
    assert f"expected md5 {TRAIN_IMAGES.md5}, got {served}" in message
    assert "file not kept" in message
    assert [f.attempts for f in info.value.failures] == [1]  # a bad checksum is not retried
    assert list(tmp_path.iterdir()) == []  # train-images comes first; nothing else was fetched


def test_corrupted_file_fails_structure_check(tmp_path, mirror):
    with pytest.raises(DownloadError) as info:
        download_file(LABELS, tmp_path, [mirror.url("corrupt")], md5=TEST_LABELS.md5,
                      validate=lambda p: _validate_download(p, TEST_LABELS), **FAST)
    assert not isinstance(info.value, ChecksumError)
    assert re.search(rf"/corrupt/{LABELS}: invalid file: {LABELS}: not a valid gzip file", str(info.value))
    assert list(tmp_path.iterdir()) == []


def test_corrupted_file_fails_checksum(tmp_path, mirror, mnist_bytes):
    with pytest.raises(ChecksumError) as info:
        download_file(LABELS, tmp_path, [mirror.url("corrupt")], md5=TEST_LABELS.md5, **FAST)
    assert f"checksum mismatch: expected md5 {TEST_LABELS.md5}, got " in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_truncated_transfer_is_retried_then_reported(tmp_path, mirror, mnist_bytes):
    size = len(mnist_bytes[LABELS])
    with pytest.raises(DownloadError) as info:
        download_file(LABELS, tmp_path, [mirror.url("truncated")], md5=TEST_LABELS.md5, **FAST)
    assert (f"truncated transfer: received {size // 2} of {size} bytes (Content-Length) "
            "(3 attempts)") in str(info.value)
    assert mirror.hits[("truncated", LABELS)] == 3
    assert list(tmp_path.iterdir()) == []


def test_cut_off_transfer_without_length_is_caught_by_structure_check(tmp_path, mirror):
    with pytest.raises(DownloadError, match=re.escape(f"invalid file: {LABELS}: truncated gzip data")):
        download_file(LABELS, tmp_path, [mirror.url("cutoff")], md5=None,
                      validate=lambda p: _validate_download(p, TEST_LABELS), **FAST)
    assert list(tmp_path.iterdir()) == []


def test_first_mirror_down_second_works(tmp_path, mirror, refused_url, mnist_bytes):
    path = download_file(LABELS, tmp_path, [refused_url, mirror.url("missing"), mirror.url("good")],
                         md5=TEST_LABELS.md5, **FAST)
    assert path.read_bytes() == mnist_bytes[LABELS]
    assert mirror.hits[("missing", LABELS)] == 1  # HTTP 404 is not retried
    assert mirror.hits[("good", LABELS)] == 1


def test_all_mirrors_down_names_each(tmp_path, mirror, refused_url):
    mirrors = [refused_url, mirror.url("missing"), mirror.url("stall")]
    with pytest.raises(DownloadError) as info:
        download_mnist(tmp_path, mirrors=mirrors, retries=1, timeout=0.3, backoff=0.0, quiet=True)
    lines = str(info.value).splitlines()
    assert lines[0] == f"could not download {TRAIN_IMAGES.filename} from any of 3 mirror(s):"
    assert lines[1].startswith(f"  {refused_url}{TRAIN_IMAGES.filename}: cannot connect (")
    assert "refused" in lines[1] and lines[1].endswith("(2 attempts)")
    assert lines[2] == f"  {mirror.url('missing')}{TRAIN_IMAGES.filename}: HTTP 404 Not Found"
    assert lines[3] == (f"  {mirror.url('stall')}{TRAIN_IMAGES.filename}: timed out after 0.3 s "
                        "with 0 bytes received (2 attempts)")
    assert lines[4] == OFFLINE_HINT
    assert [f.url for f in info.value.failures] == [m + TRAIN_IMAGES.filename for m in mirrors]
    assert list(tmp_path.iterdir()) == []


def test_retries_until_the_flaky_mirror_serves(tmp_path, mirror, mnist_bytes):
    path = download_file(LABELS, tmp_path, [mirror.url("flaky")], md5=TEST_LABELS.md5, **FAST)
    assert path.read_bytes() == mnist_bytes[LABELS]
    assert mirror.hits[("flaky", LABELS)] == 3  # two 503s, then the file


def test_gives_up_after_the_retries(tmp_path, mirror, refused_url):
    with pytest.raises(DownloadError) as info:
        download_file(LABELS, tmp_path, [mirror.url("flaky"), refused_url], md5=TEST_LABELS.md5,
                      **{**FAST, "retries": 1})
    first = info.value.failures[0]
    assert (first.reason, first.attempts) == ("HTTP 503 Service Unavailable", 2)
    assert mirror.hits[("flaky", LABELS)] == 2


def test_good_file_is_never_replaced_by_a_bad_download(tmp_path, mirror, mnist_bytes):
    good = tmp_path / LABELS
    good.write_bytes(mnist_bytes[LABELS])
    for mode, error in (("corrupt", ChecksumError), ("truncated", DownloadError)):
        with pytest.raises(error):
            download_file(LABELS, tmp_path, [mirror.url(mode)], md5=TEST_LABELS.md5, **FAST)
    with pytest.raises(DownloadError):
        download_mnist(tmp_path, mirrors=[mirror.url("corrupt")], force=True, **FAST)
    assert good.read_bytes() == mnist_bytes[LABELS]
    assert [p.name for p in tmp_path.iterdir()] == [LABELS]


def test_download_mnist_keeps_present_files(tmp_path, mirror, mnist_bytes):
    for spec in FILES:
        (tmp_path / spec.filename).write_bytes(mnist_bytes[spec.filename])
    download_mnist(tmp_path, mirrors=[mirror.url("corrupt")], **FAST)
    assert sum(mirror.hits.values()) == 0


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
# train-labels (29 kB) fails in write(); t10k-labels (4.5 kB) fits the write buffer, fails in flush().
@pytest.mark.parametrize("name", [TRAIN_LABELS.filename, TEST_LABELS.filename])
def test_disk_full_stops_at_once_with_a_clear_message(tmp_path, mirror, monkeypatch, name):
    def open_on_full_disk(path, mode):
        open(path, mode).close()  # the real temporary file, which must be cleaned up
        return open("/dev/full", "wb")  # every write fails with ENOSPC, as on a full disk

    monkeypatch.setattr(download_module, "open", open_on_full_disk, raising=False)
    with pytest.raises(DownloadError, match=r"^no space left on the device holding ") as info:
        download_file(name, tmp_path, [mirror.url("good"), mirror.url("flaky")], **FAST)
    assert info.value.__cause__.errno == errno.ENOSPC
    assert mirror.hits[("good", name)] == 1  # neither retried...
    assert mirror.hits[("flaky", name)] == 0  # ...nor another mirror tried
    assert list(tmp_path.iterdir()) == []


def test_progress_bar_unless_quiet(tmp_path, mirror, capsys):
    download_file(LABELS, tmp_path / "a", [mirror.url("good")], **{**FAST, "quiet": False})
    assert LABELS in capsys.readouterr().err
    download_file(LABELS, tmp_path / "b", [mirror.url("good")], **FAST)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("kwargs, error, message", [
    ({"mirrors": "http://x/"}, TypeError, "mirrors must be a sequence of base URLs (got a single str)"),
    ({"mirrors": []}, ValueError, "mirrors must name at least one base URL (got none)"),
    ({"mirrors": ["http://x/"], "retries": -1}, ValueError, "retries must be >= 0 (got -1)"),
    ({"mirrors": ["http://x/"], "timeout": 0}, ValueError, "timeout must be > 0 seconds (got 0)"),
])
def test_bad_arguments(tmp_path, kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        download_file(LABELS, tmp_path, **kwargs)
