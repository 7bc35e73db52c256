"""MNIST-format datasets: where their four files are found, downloading and loading them.

Every function takes `dataset`, a name from `DATASETS` ("mnist", the default, or "fashion" for
Fashion-MNIST; see cnnkit.data.datasets). Where the files are looked for (`resolve_data_dir`),
first match wins:
1. the `data_dir` argument,
2. the folder named by the dataset's environment variable (CNNKIT_DATA for MNIST,
   CNNKIT_FASHION_DATA for Fashion-MNIST),
3. a system install location (Fashion-MNIST: /usr/share/datasets/fashion-mnist, from the Debian
   package dataset-fashion-mnist), if all four files are there with the right IDX headers,
4. the per-user cache folder (`default_cache_dir()`, overridable by `cache_dir`), into which
   missing files are downloaded from public mirrors and md5-checked.

A folder found in 1-3 is a copy made elsewhere: it is validated structurally (gzip, IDX magic
numbers, shapes, label range; problems are errors), while an md5 that differs from the official
one is only a ChecksumWarning, given once per file and user. A .gz file whose md5 differs but
whose uncompressed content matches the published md5 of the uncompressed file (Fashion-MNIST
publishes them; the Debian package recompresses) is the official data. Downloads, by contrast,
must match the .gz md5 exactly. Uncompressed files (the same names without ".gz") are accepted
when the .gz is absent; they are checked against the uncompressed md5 where one is published
(not for MNIST).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import platformdirs
from numpy.typing import DTypeLike

from .datasets import MNIST_DATASET, Dataset, MnistFile, get_dataset
from .download import download_file
from .idx import IdxError, gunzip, parse_idx

# MNIST's entry, by the names this module has always exported.
ENV_VAR = MNIST_DATASET.env_var
MIRRORS = MNIST_DATASET.mirrors
OFFLINE_HINT = MNIST_DATASET.offline_hint
FILES = MNIST_DATASET.files
TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = FILES

NUM_CLASSES = 10


class ChecksumWarning(UserWarning):
    """A local file is structurally valid but its md5 differs from the official one."""


@dataclass(frozen=True, eq=False)
class MNIST:
    """The arrays of an MNIST-format dataset, all read-only (index or copy them to write).

    x_train: (60000, 28, 28) uint8, 0 = background .. 255 = ink.
    y_train: (60000,) int64 labels in 0..9 (their names: `dataset.class_names`).
    x_test: (10000, 28, 28) uint8.
    y_test: (10000,) int64.
    folder: the folder the four files were read from.
    dataset: the registry entry (cnnkit.data.datasets) the files are of.
    Use `to_nchw_float(mnist.x_train)` for network input of shape (N, 1, 28, 28).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    folder: Path
    dataset: Dataset = MNIST_DATASET


@dataclass(frozen=True)
class FileReport:
    """What `verify_mnist` found for one file; `error` is None when it is structurally valid."""

    spec: MnistFile
    path: Path | None  # None when the file is missing
    shape: tuple[int, ...] | None = None
    md5: str | None = None  # of the file as stored
    error: str | None = None
    # True/False: the file is/is not the official data (see `_is_official`); None when there is
    # nothing to compare (missing, or uncompressed without a published md5).
    md5_matches: bool | None = None

    @property
    def official_md5(self) -> str | None:
        """The published md5 of the file in the form found (.gz or uncompressed)."""
        return _official_md5(self.path, self.spec) if self.path is not None else None


def to_nchw_float(images: np.ndarray, dtype: DTypeLike = np.float32) -> np.ndarray:
    """Images (N, H, W) uint8 in 0..255 -> a new (N, 1, H, W) array of `dtype` in [0, 1]."""
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must be 3-D (N, H, W) (got shape {images.shape})")
    if images.dtype != np.uint8:
        raise TypeError(f"images must be uint8 (got {images.dtype})")
    if np.dtype(dtype).kind != "f":
        raise TypeError(f"dtype must be a float type (got {np.dtype(dtype)})")
    out = images[:, None].astype(dtype)
    out /= 255
    return out


def default_cache_dir(dataset: str = "mnist") -> Path:
    """The per-user cache folder: platformdirs' user data dir for "cnnkit", subfolder "mnist"
    (Fashion-MNIST: "fashion-mnist")."""
    return platformdirs.user_data_path("cnnkit") / get_dataset(dataset).cache_name


def resolve_data_dir(data_dir: str | Path | None = None, cache_dir: str | Path | None = None,
                     *, dataset: str = "mnist") -> tuple[Path, str]:
    """The folder to read `dataset` from and where that choice came from.

    Returns (folder, source) with source "data_dir", the dataset's environment variable (e.g.
    "CNNKIT_DATA"), "system" (an install location holding the files) or "cache". The cache
    folder is `cache_dir` if given, else `default_cache_dir(dataset)`.
    """
    entry = get_dataset(dataset)
    if data_dir is not None:
        return Path(data_dir), "data_dir"
    if os.environ.get(entry.env_var):
        return Path(os.environ[entry.env_var]), entry.env_var
    for folder in entry.system_dirs:
        if all(_has_header(find_file(folder, spec), spec) for spec in entry.files):
            return folder, "system"
    return (Path(cache_dir) if cache_dir is not None else default_cache_dir(dataset)), "cache"


def _has_header(path: Path | None, spec: MnistFile) -> bool:
    """Whether `path` exists and starts with the IDX header of `spec` (magic number and shape):
    a cheap check that an install location holds the dataset; loading validates every byte."""
    if path is None:
        return False
    header = struct.pack(f">{1 + len(spec.shape)}I", spec.magic, *spec.shape)
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            return f.read(len(header)) == header
    except (OSError, EOFError):  # unreadable, not gzip, cut off
        return False


def find_file(folder: Path, spec: MnistFile) -> Path | None:
    """The .gz file of `spec` in `folder`, else its uncompressed form, else None."""
    for name in (spec.filename, spec.raw_filename):
        if (folder / name).is_file():
            return folder / name
    return None


def read_mnist_file(path: str | Path, spec: MnistFile) -> tuple[np.ndarray, str]:
    """Read and structurally validate one MNIST-format file (gzip if its name ends in ".gz").

    Returns (values, md5 of the stored file): values is (N, 28, 28) uint8 for images or (N,)
    int64 for labels, read-only. Raises IdxError naming the file and what is wrong.
    """
    values, md5, _ = _read(Path(path), spec)
    return values, md5


def _read(path: Path, spec: MnistFile) -> tuple[np.ndarray, str, bool | None]:
    """`read_mnist_file`'s (values, md5) plus whether the file is the official one (`_is_official`)."""
    raw = path.read_bytes()
    data = gunzip(raw, str(path)) if path.suffix == ".gz" else raw
    values = _parse(data, str(path), spec)
    md5 = hashlib.md5(raw).hexdigest()
    return values, md5, _is_official(path, spec, md5, data)


def _is_official(path: Path, spec: MnistFile, md5: str, data: bytes) -> bool | None:
    """A .gz file is official if its md5 is, or failing that its uncompressed `data`'s md5 is
    the published `raw_md5` (a recompressed copy of the same data). An uncompressed file is
    checked against `raw_md5`; None if there is none."""
    if path.name == spec.filename and md5 == spec.md5:
        return True
    if spec.raw_md5 is None:
        return None if path.name != spec.filename else False
    return hashlib.md5(data).hexdigest() == spec.raw_md5


def _parse(data: bytes, name: str, spec: MnistFile) -> np.ndarray:
    """The uncompressed IDX bytes of the file `name` -> its validated values (see read_mnist_file)."""
    values = parse_idx(data, name, spec.magic)
    if values.shape != spec.shape:
        raise IdxError(f"{name}: shape must be {spec.shape} (got {values.shape})")
    if spec.is_labels:
        values = _checked_labels(values, name)
    return values


def _checked_labels(labels: np.ndarray, name: str) -> np.ndarray:
    """uint8 labels -> read-only int64 labels; IdxError if any is outside 0..9."""
    bad = np.flatnonzero(labels >= NUM_CLASSES)
    if bad.size:
        raise IdxError(f"{name}: labels must be in 0..{NUM_CLASSES - 1} "
                       f"(got {labels[bad[0]]} at index {bad[0]}, {bad.size} such labels)")
    labels = labels.astype(np.int64)
    labels.flags.writeable = False
    return labels


def _official_md5(path: Path, spec: MnistFile) -> str | None:
    """The published md5 of the file in the form found: .gz, or uncompressed (None if unknown)."""
    return spec.md5 if path.name == spec.filename else spec.raw_md5


def _validate_download(path: Path, spec: MnistFile) -> None:
    """Structural check of a downloaded temporary file, reported under the file's real name."""
    _parse(gunzip(path.read_bytes(), spec.filename), spec.filename, spec)


def download_mnist(dest: str | Path | None = None, *, mirrors: Sequence[str] | None = None,
                   md5s: Mapping[str, str] | None = None, force: bool = False, retries: int = 2,
                   timeout: float = 30.0, backoff: float = 1.0, quiet: bool = False,
                   dataset: str = "mnist") -> Path:
    """Download the files of `dataset` missing from `dest` (default: `default_cache_dir(dataset)`);
    return `dest`.

    A file already present (.gz or uncompressed) is kept unless `force`; even then it is only
    replaced by a download that passed every check. Each download must match its official md5,
    or the md5 given for its filename in `md5s`. `mirrors` (default: the dataset's), `retries`,
    `timeout`, `backoff` and `quiet` are passed to `download_file`; raises DownloadError
    (ChecksumError) on failure.
    """
    entry = get_dataset(dataset)
    dest = Path(dest) if dest is not None else default_cache_dir(dataset)
    md5s = md5s or {}
    for spec in entry.files:
        if force or find_file(dest, spec) is None:
            download_file(spec.filename, dest, entry.mirrors if mirrors is None else mirrors,
                          md5=md5s.get(spec.filename, spec.md5),
                          validate=partial(_validate_download, spec=spec), retries=retries,
                          timeout=timeout, backoff=backoff, quiet=quiet, hint=entry.offline_hint)
    return dest


def load_mnist(data_dir: str | Path | None = None, download: bool = True, *,
               cache_dir: str | Path | None = None, mirrors: Sequence[str] | None = None,
               quiet: bool = False, dataset: str = "mnist") -> MNIST:
    """Load `dataset` from the folder chosen by `resolve_data_dir` (see the module docstring).

    Only the cache folder is ever downloaded into (missing files, if `download`, from `mirrors`,
    default: the dataset's). Raises FileNotFoundError if the folder or a file is missing,
    IdxError if a file is malformed, DownloadError if a download fails; warns (ChecksumWarning)
    if a file is valid but not the official one. Returns an `MNIST` (x: (N, 28, 28) uint8,
    y: (N,) int64).
    """
    entry = get_dataset(dataset)
    folder, source = resolve_data_dir(data_dir, cache_dir, dataset=dataset)
    if source == "cache" and download:
        download_mnist(folder, mirrors=mirrors, quiet=quiet, dataset=dataset)
    paths = _require_files(entry, folder, source, can_download=source == "cache")
    arrays = []
    for spec, path in zip(entry.files, paths, strict=True):
        values, md5, official = _read(path, spec)
        if official is False:
            _warn_once(_mismatch_message(entry, path, _official_md5(path, spec), md5), path, md5)
        arrays.append(values)
    return MNIST(*arrays, folder=folder, dataset=entry)


def _require_files(entry: Dataset, folder: Path, source: str, can_download: bool) -> list[Path]:
    """The path of each of the four files in `folder`; FileNotFoundError listing what is missing."""
    where = f"{entry.title} folder {folder} (from {source})"
    if not folder.is_dir():
        missing = f"{where} does not exist"
    else:
        paths = [find_file(folder, spec) for spec in entry.files]
        absent = [spec.filename for spec, path in zip(entry.files, paths, strict=True)
                  if path is None]
        if not absent:
            return paths
        missing = f"{where} lacks {', '.join(absent)} (nor has them uncompressed)"
    hint = (f"; run `{entry.download_command}` or call load_mnist(download=True). "
            f"{entry.offline_hint}" if can_download else "")
    raise FileNotFoundError(missing + hint)


def _warn_once(message: str, path: Path, md5: str) -> None:
    """A ChecksumWarning the first time this user loads this file (by path and md5): a known
    local copy is noted once, not on every run. The notes live in the user's state folder
    (platformdirs; $XDG_STATE_HOME/cnnkit on Linux)."""
    notes = platformdirs.user_state_path("cnnkit") / "checksum-notes.txt"
    key = f"{md5} {path.resolve()}"
    try:
        if key in notes.read_text().splitlines():
            return
    except OSError:
        pass  # no notes yet
    warnings.warn(f"{message} (noted once for this file)", ChecksumWarning, stacklevel=3)
    try:
        notes.parent.mkdir(parents=True, exist_ok=True)
        with open(notes, "a") as out:
            out.write(key + "\n")
    except OSError:
        pass  # a read-only home: the note shows again next time


def _mismatch_message(entry: Dataset, path: Path, expected: str, actual: str) -> str:
    return (f"{path}: md5 {actual} differs from the official {expected}; the file is structurally "
            f"valid {entry.title} and is used as is")


def verify_mnist(data_dir: str | Path | None = None, cache_dir: str | Path | None = None, *,
                 dataset: str = "mnist") -> tuple[Path, list[FileReport]]:
    """Check the four files of the folder chosen by `resolve_data_dir`, without raising.

    Returns (folder, one FileReport per file of the dataset, in `Dataset.files` order).
    """
    folder, _ = resolve_data_dir(data_dir, cache_dir, dataset=dataset)
    return folder, [_report(folder, spec) for spec in get_dataset(dataset).files]


def _report(folder: Path, spec: MnistFile) -> FileReport:
    path = find_file(folder, spec)
    if path is None:
        return FileReport(spec, None, error=f"{folder / spec.filename}: missing")
    try:
        values, md5, official = _read(path, spec)
    except (IdxError, OSError) as e:
        return FileReport(spec, path, error=str(e))
    return FileReport(spec, path, values.shape, md5, md5_matches=official)
