"""The intake gate: only regular files and folders, within caps, never followed or blocked on."""

import os
import stat
import warnings
import zipfile
from pathlib import Path

import pytest

from cnnkit.autograder.intake import (IntakeError, IntakeLimits, copy_submission,
                                      read_submission)

pytestmark = pytest.mark.timeout(60)  # a FIFO or /dev/zero that were read would hang here


@pytest.fixture
def student(tmp_path) -> Path:
    """A plain submission folder: scratchcnn/ with two files and a model beside it."""
    folder = tmp_path / "student"
    (folder / "scratchcnn").mkdir(parents=True)
    (folder / "scratchcnn" / "__init__.py").write_text("")
    (folder / "scratchcnn" / "conv.py").write_text("def conv(): return 1\n")
    (folder / "model.npz").write_bytes(b"\0" * 1000)
    return folder


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_plain_folder_is_copied_exactly(student, tmp_path):
    copy = copy_submission(student, tmp_path / "copy")
    assert copy == tmp_path / "copy"
    assert files_of(copy) == files_of(student)
    assert [rel.as_posix() for rel, _ in read_submission(student)] == [
        "model.npz", "scratchcnn/__init__.py", "scratchcnn/conv.py"]


def refusal(source: Path, tmp_path: Path, limits: IntakeLimits = IntakeLimits()) -> str:
    """The reason the gate gives, checking that no partial copy is left behind."""
    with pytest.raises(IntakeError) as err:
        copy_submission(source, tmp_path / "refused", limits)
    assert not (tmp_path / "refused").exists()
    return str(err.value)


@pytest.mark.parametrize("target", [
    "/dev/zero",                    # reading it never ends
    "/etc/passwd",                  # a file the instructor's account can read
    "../other/scratchcnn/conv.py",  # another student's code
    "missing.py",                   # dangling
    ".",                            # a loop
])
def test_a_symlinked_file_anywhere_refuses_the_submission(student, tmp_path, target):
    os.symlink(target, student / "scratchcnn" / "pool.py")
    assert refusal(student, tmp_path) == (
        "scratchcnn/pool.py: a symlink; a submission may hold only regular files and folders")


def test_a_symlinked_package_folder_refuses_the_submission(student, tmp_path):
    os.rename(student / "scratchcnn", tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere", student / "scratchcnn")
    assert refusal(student, tmp_path).startswith("scratchcnn: a symlink")


def test_a_submission_that_is_itself_a_symlink_is_refused(student, tmp_path):
    os.symlink(student, tmp_path / "link")
    assert "the submission is a symlink" in refusal(tmp_path / "link", tmp_path)


def test_a_fifo_is_refused_without_blocking(student, tmp_path):
    os.mkfifo(student / "scratchcnn" / "zz.py")
    assert refusal(student, tmp_path).startswith("scratchcnn/zz.py: a FIFO (named pipe)")


def test_a_socket_is_refused(student, tmp_path):
    import socket
    path = student / "s"
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.bind(str(path))
        except OSError as err:  # e.g. a path too long for AF_UNIX
            pytest.skip(f"can't make a socket here: {err}")
        assert refusal(student, tmp_path).startswith("s: a socket")


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_a_device_is_refused(student, tmp_path):
    os.mknod(student / "zero.py", stat.S_IFCHR | 0o644, os.makedev(1, 5))  # /dev/zero's numbers
    assert refusal(student, tmp_path).startswith("zero.py: a character device")


def test_hard_links_are_just_files(student, tmp_path):
    os.link(student / "scratchcnn" / "conv.py", student / "scratchcnn" / "pool.py")
    assert files_of(copy_submission(student, tmp_path / "copy"))["scratchcnn/pool.py"] == \
        b"def conv(): return 1\n"


@pytest.mark.parametrize("limits, reason", [
    (IntakeLimits(max_files=2), "more than 2 files (at scratchcnn/conv.py)"),
    (IntakeLimits(max_file_bytes=999), "model.npz: larger than 0.000952721 MiB"),
    (IntakeLimits(max_total_bytes=1010), "more than 0.000963211 MiB in all (at "
                                         "scratchcnn/conv.py)"),
    (IntakeLimits(max_depth=0), "scratchcnn: more than 0 folders deep"),
])
def test_folder_caps(student, tmp_path, limits, reason):
    assert refusal(student, tmp_path, limits) == reason


def test_a_folder_with_too_many_entries_is_refused_before_it_is_listed_whole(tmp_path):
    for name in ("a", "b", "c"):
        (tmp_path / "student" / name).mkdir(parents=True)  # empty folders count too
    assert refusal(tmp_path / "student", tmp_path, IntakeLimits(max_files=2)) == (
        "the submission: more than 2 entries in one folder")


def test_the_cap_counts_bytes_read_not_the_size_stat_reports(tmp_path):
    """A file that grows after lstat (or reports size 0) is still cut at the cap."""
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "big").write_bytes(b"x" * 5000)
    assert "big: larger than" in refusal(folder, tmp_path, IntakeLimits(max_file_bytes=4096))


def test_deep_folders_are_refused(tmp_path):
    deep = tmp_path / "student" / Path(*["d"] * 20)
    deep.mkdir(parents=True)
    (deep / "f.py").write_text("")
    assert "more than 16 folders deep" in refusal(tmp_path / "student", tmp_path)


def make_zip(path: Path, entries: dict[str, bytes], links: dict[str, str] = {}) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name, target in links.items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return path


def test_a_zip_is_unpacked(tmp_path):
    entries = {"alice/scratchcnn/__init__.py": b"", "alice/scratchcnn/conv.py": b"x = 1\n"}
    copy = copy_submission(make_zip(tmp_path / "a.zip", entries), tmp_path / "copy")
    assert files_of(copy) == entries


@pytest.mark.parametrize("name, reason", [
    ("../../escaped.txt", "../../escaped.txt: an absolute path or '..' in the zip"),
    ("/etc/cron.d/x", "/etc/cron.d/x: an absolute path or '..' in the zip"),
    ("C:/x.py", "C:/x.py: an absolute path or '..' in the zip"),
    ("a\\..\\..\\x.py", "a\\..\\..\\x.py: an absolute path or '..' in the zip"),
])
def test_a_zip_with_an_escaping_path_is_refused(tmp_path, name, reason):
    zipped = make_zip(tmp_path / "a.zip", {"scratchcnn/__init__.py": b"", name: b"escape"})
    assert refusal(zipped, tmp_path) == reason
    assert not (tmp_path.parent / "escaped.txt").exists()


def test_a_zip_with_a_link_entry_is_refused(tmp_path):
    zipped = make_zip(tmp_path / "a.zip", {"scratchcnn/__init__.py": b""},
                      links={"scratchcnn/conv.py": "/etc/passwd"})
    assert refusal(zipped, tmp_path) == (
        "scratchcnn/conv.py: a symlink in the zip; a submission may hold only regular files "
        "and folders")


def test_a_zip_bomb_is_refused_before_it_is_read(tmp_path):
    zipped = make_zip(tmp_path / "bomb.zip", {"zeros": b"\0" * (65 * 1024**2)})
    assert zipped.stat().st_size < 1024**2
    assert refusal(zipped, tmp_path) == "bomb.zip: its entries unpack to more than 64 MiB"


def test_a_zip_entry_that_lies_about_its_size_is_caught_while_read(tmp_path):
    """The declared size says 10 bytes; the data unpacks to 5000: the read is capped anyway."""
    zipped = make_zip(tmp_path / "liar.zip", {"data": b"y" * 5000})
    raw = bytearray(zipped.read_bytes())
    with zipfile.ZipFile(zipped) as archive:
        info = archive.getinfo("data")
    for offset in (info.header_offset + 22, raw.rindex(b"PK\x01\x02") + 24):
        raw[offset:offset + 4] = (10).to_bytes(4, "little")  # uncompressed size, both headers
    zipped.write_bytes(bytes(raw))
    reason = refusal(zipped, tmp_path, IntakeLimits(max_file_bytes=4096))
    assert reason.startswith("data: larger than") or "broken or unsupported zip" in reason


def test_zip_entry_count_and_duplicates(tmp_path):
    many = make_zip(tmp_path / "many.zip", {f"f{i}": b"" for i in range(5)})
    assert refusal(many, tmp_path, IntakeLimits(max_files=4)) == "many.zip: more than 4 entries"
    twice = tmp_path / "twice.zip"
    with zipfile.ZipFile(twice, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name
        for data in (b"one", b"two"):
            archive.writestr("scratchcnn/conv.py", data)
    assert refusal(twice, tmp_path).startswith("scratchcnn/conv.py: can't be unpacked")


@pytest.mark.parametrize("make, reason", [
    (lambda p: p.write_bytes(b"not a zip"), "neither a folder nor a .zip file"),
    (lambda p: os.mkfifo(p), "the submission is a FIFO (named pipe)"),
    (lambda p: os.symlink("/dev/zero", p), "the submission is a symlink"),
    (lambda p: None, "can't be read (No such file or directory)"),
])
def test_a_submission_that_is_no_folder_or_zip_is_refused(tmp_path, make, reason):
    make(tmp_path / "s.zip")
    assert reason in refusal(tmp_path / "s.zip", tmp_path)
