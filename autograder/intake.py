"""The one gate for what a student hands in: a folder or a .zip, read into a private copy.

Everything the kit reads from a submission (`cnnkit grade`, `grade-all`'s fingerprints, the
nbgrader collect step) goes through `read_submission` or `copy_submission`. The rule is strict
and simple: a submission is regular files in folders, nothing else. A symlink of any kind (even
dangling, even to /dev/zero), a hard-to-read entry (FIFO, device, socket), a zip entry that is a
link, has an absolute path or '..', or anything over the caps of `IntakeLimits` refuses the
*whole* submission with an `IntakeError` whose text names the entry and why; nothing is ever
followed. Each entry is opened with O_NOFOLLOW | O_NONBLOCK relative to its already opened
parent folder and checked with fstat against its lstat, and every read is capped while it
happens, so a FIFO can't block, a device or a file that grows can't be read without bound, and
an entry swapped for a link mid-walk is caught.
"""

from __future__ import annotations

import itertools
import os
import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

MiB = 1024**2
CHUNK = MiB
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
KINDS = {stat.S_IFLNK: "symlink", stat.S_IFIFO: "FIFO (named pipe)",
         stat.S_IFCHR: "character device", stat.S_IFBLK: "block device",
         stat.S_IFSOCK: "socket"}
ONLY_FILES = "a submission may hold only regular files and folders"


class IntakeError(Exception):
    """The submission is refused; str(err) is the reason shown to that student."""


@dataclass(frozen=True)
class IntakeLimits:
    """Caps on one submission (folder or zip; a zip's caps apply to its unpacked entries)."""

    max_files: int = 2000
    max_file_bytes: int = 48 * MiB  # a notebook with large outputs still fits
    max_total_bytes: int = 64 * MiB
    max_depth: int = 16  # folders below the submission's top


def kind_of(mode: int) -> str:
    """'symlink', 'FIFO (named pipe)', ... for an lstat mode that is no file or folder."""
    return KINDS.get(stat.S_IFMT(mode), f"special file (mode {stat.S_IFMT(mode):o})")


class Budget:
    """Counts the files and bytes read so far against the limits."""

    def __init__(self, limits: IntakeLimits):
        self.limits, self.files, self.bytes = limits, 0, 0

    def enter(self, entry: PurePosixPath) -> None:
        """Check a folder's depth before walking into it."""
        if len(entry.parts) > self.limits.max_depth:
            raise IntakeError(f"{entry}: more than {self.limits.max_depth} folders deep")

    def count(self, entry: PurePosixPath) -> None:
        """Count one more file (its folders' depth checked too)."""
        self.enter(entry.parent)
        self.files += 1
        if self.files > self.limits.max_files:
            raise IntakeError(f"more than {self.limits.max_files} files (at {entry})")

    def read(self, read: Callable[[int], bytes], entry: PurePosixPath) -> bytes:
        """All of a stream, failing as soon as it passes the per-file or total cap."""
        chunks, size = [], 0
        while chunk := read(CHUNK):
            size += len(chunk)
            self.bytes += len(chunk)
            if size > self.limits.max_file_bytes:
                raise IntakeError(f"{entry}: larger than "
                                  f"{self.limits.max_file_bytes / MiB:g} MiB")
            if self.bytes > self.limits.max_total_bytes:
                raise IntakeError(f"more than {self.limits.max_total_bytes / MiB:g} MiB in all "
                                  f"(at {entry})")
            chunks.append(chunk)
        return b"".join(chunks)


def read_submission(source: Path, limits: IntakeLimits = IntakeLimits()
                    ) -> Iterator[tuple[PurePosixPath, bytes]]:
    """(path relative to the submission, contents) of each regular file of the folder or zip
    `source`, in sorted order; raises IntakeError on the first entry that refuses it."""
    try:
        mode = os.lstat(source).st_mode
        if stat.S_ISDIR(mode):
            yield from read_folder(Path(source), limits)
        elif stat.S_ISREG(mode):
            yield from read_zip(Path(source), limits)
        else:
            raise IntakeError(f"{Path(source).name}: the submission is a {kind_of(mode)}; "
                              f"hand in a folder or a .zip file")
    except OSError as err:
        raise IntakeError(f"{Path(source).name}: can't be read ({err.strerror or err})") from None


def copy_submission(source: Path, dest: Path, limits: IntakeLimits = IntakeLimits()) -> Path:
    """Copy the folder or zip `source` into `dest` (created; must not exist) and return `dest`.

    `dest` then holds what `source` holds (a zip's entries, a folder's contents): only regular
    files and folders, within `limits`. Raises IntakeError naming the offending entry (and
    removes `dest` again).
    """
    dest.mkdir(parents=True)
    try:
        for relative, data in read_submission(source, limits):
            write_new(dest.joinpath(*relative.parts), data, relative)
    except BaseException:
        shutil.rmtree(dest)
        raise
    return dest


def write_new(target: Path, data: bytes, relative: PurePosixPath) -> None:
    """Write a file that must not exist yet: a name given twice (zip) is refused, not merged."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "xb") as out:
            out.write(data)
    except OSError as err:
        raise IntakeError(f"{relative}: can't be unpacked ({err.strerror or err})") from None


def open_entry(name: str, dir_fd: int | None, expected: os.stat_result,
               entry: PurePosixPath) -> int:
    """An fd for `name` (in `dir_fd`) that is the very file or folder lstat saw."""
    directory = os.O_DIRECTORY if stat.S_ISDIR(expected.st_mode) else 0
    fd = os.open(name, OPEN_FLAGS | directory, dir_fd=dir_fd)
    opened = os.fstat(fd)
    if (opened.st_dev, opened.st_ino, stat.S_IFMT(opened.st_mode)) != (
            expected.st_dev, expected.st_ino, stat.S_IFMT(expected.st_mode)):
        os.close(fd)
        raise IntakeError(f"{entry}: changed while it was being read")
    return fd


def read_folder(root: Path, limits: IntakeLimits) -> Iterator[tuple[PurePosixPath, bytes]]:
    fd = open_entry(str(root), None, os.lstat(root), PurePosixPath(root.name))
    try:
        yield from walk(fd, PurePosixPath(), Budget(limits))
    finally:
        os.close(fd)


def walk(dir_fd: int, folder: PurePosixPath, budget: Budget
         ) -> Iterator[tuple[PurePosixPath, bytes]]:
    """The regular files below the open folder `dir_fd` (at `folder` in the submission)."""
    for name in folder_names(dir_fd, folder, budget.limits):
        entry = folder / name
        found = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if not (stat.S_ISDIR(found.st_mode) or stat.S_ISREG(found.st_mode)):
            raise IntakeError(f"{entry}: a {kind_of(found.st_mode)}; {ONLY_FILES}")
        (budget.enter if stat.S_ISDIR(found.st_mode) else budget.count)(entry)
        fd = open_entry(name, dir_fd, found, entry)
        if stat.S_ISDIR(found.st_mode):
            try:
                yield from walk(fd, entry, budget)
            finally:
                os.close(fd)
        else:
            with os.fdopen(fd, "rb", buffering=0) as fh:
                data = budget.read(fh.read, entry)
            yield entry, data


def folder_names(dir_fd: int, folder: PurePosixPath, limits: IntakeLimits) -> list[str]:
    """The sorted names in an open folder, refused past max_files (never all listed first)."""
    with os.scandir(dir_fd) as entries:
        names = [entry.name for entry in itertools.islice(entries, limits.max_files + 1)]
    if len(names) > limits.max_files:
        raise IntakeError(f"{folder.as_posix() if folder.parts else 'the submission'}: more "
                          f"than {limits.max_files} entries in one folder")
    return sorted(names)


def read_zip(path: Path, limits: IntakeLimits) -> Iterator[tuple[PurePosixPath, bytes]]:
    fd = open_entry(str(path), None, os.lstat(path), PurePosixPath(path.name))
    with os.fdopen(fd, "rb") as fh:
        if os.fstat(fd).st_size > limits.max_total_bytes:
            raise IntakeError(f"{path.name}: larger than {limits.max_total_bytes / MiB:g} MiB")
        end = zipfile._EndRecData(fh)  # the entry count, before zipfile lists every entry
        if not end:
            raise IntakeError(f"{path.name}: neither a folder nor a .zip file")
        if end[zipfile._ECD_ENTRIES_TOTAL] > limits.max_files:
            raise IntakeError(f"{path.name}: more than {limits.max_files} entries")
        try:
            with zipfile.ZipFile(fh) as archive:
                yield from zip_entries(archive, path.name, limits)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError,
                EOFError, zlib.error) as err:
            raise IntakeError(f"{path.name}: a broken or unsupported zip ({err})") from None


def zip_entries(archive: zipfile.ZipFile, name: str, limits: IntakeLimits
                ) -> Iterator[tuple[PurePosixPath, bytes]]:
    """The zip's files, after checking every entry's name, type and declared size."""
    members = archive.infolist()
    if len(members) > limits.max_files:
        raise IntakeError(f"{name}: more than {limits.max_files} entries")
    paths = [(zip_path(member), member) for member in members]
    files = [(relative, member) for relative, member in paths if not member.is_dir()]
    declared = sum(member.file_size for _, member in files)
    if declared > limits.max_total_bytes:
        raise IntakeError(f"{name}: its entries unpack to more than "
                          f"{limits.max_total_bytes / MiB:g} MiB")
    budget = Budget(limits)
    for relative, member in files:
        budget.count(relative)
        if member.file_size > limits.max_file_bytes:
            raise IntakeError(f"{relative}: larger than {limits.max_file_bytes / MiB:g} MiB")
        with archive.open(member) as entry:
            yield relative, budget.read(entry.read, relative)


def zip_path(member: zipfile.ZipInfo) -> PurePosixPath:
    """The entry's path inside the submission; refuses links, absolute paths and '..'."""
    mode = member.external_attr >> 16
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise IntakeError(f"{member.filename}: a {kind_of(mode)} in the zip; {ONLY_FILES}")
    name = member.filename.replace("\\", "/")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if name.startswith("/") or (parts and parts[0].endswith(":")) or ".." in parts or not parts:
        raise IntakeError(f"{member.filename}: an absolute path or '..' in the zip")
    return PurePosixPath(*parts)
