"""MNIST: the four standard files, where they are found, downloading and loading them.

Where the files are looked for (`resolve_data_dir`), first match wins:
1. the `data_dir` argument,
2. the folder named by the environment variable CNNKIT_DATA,
3. the per-user cache folder (`default_cache_dir()`, overridable by `cache_dir`), into which
   missing files are downloaded from public mirrors (`MIRRORS`) and md5-checked.

A folder given by argument or CNNKIT_DATA is the user's own copy: it is validated structurally
(gzip, IDX magic numbers, shapes, label range; problems are errors), while an md5 that differs
from the official one is only a ChecksumWarning. Downloads, by contrast, must match the md5
exactly. Uncompressed files (the same names without ".gz") are accepted when the .gz is absent;
they are validated structurally only, as the official checksums are those of the .gz files.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import platformdirs
from numpy.typing import DTypeLike

from .download import download_file
from .idx import IdxError, gunzip, parse_idx, ubyte_magic

ENV_VAR = "CNNKIT_DATA"

# Tried in order. Each serves the four official .gz files under these exact names.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

OFFLINE_HINT = (f"Without network access, put the four MNIST files in a folder and pass it as "
                f"data_dir (cnnkit data ... --data DIR) or set {ENV_VAR}.")


@dataclass(frozen=True)
class MnistFile:
    """One of the four standard MNIST files: its name, official md5 and array shape."""

    filename: str  # the .gz name; the uncompressed file drops ".gz"
    md5: str  # of the official .gz file
    shape: tuple[int, ...]  # (N, 28, 28) for images, (N,) for labels

    @property
    def magic(self) -> int:
        """IDX magic number: 2051 for images (3-D), 2049 for labels (1-D)."""
        return ubyte_magic(len(self.shape))

    @property
    def is_labels(self) -> bool:
        return len(self.shape) == 1

    @property
    def raw_filename(self) -> str:
        return self.filename.removesuffix(".gz")


TRAIN_IMAGES = MnistFile("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", (60000, 28, 28))
TRAIN_LABELS = MnistFile("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", (60000,))
TEST_IMAGES = MnistFile("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", (10000, 28, 28))
TEST_LABELS = MnistFile("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", (10000,))
FILES: tuple[MnistFile, ...] = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

NUM_CLASSES = 10


class ChecksumWarning(UserWarning):
    """A local MNIST file is structurally valid but its md5 differs from the official one."""


@dataclass(frozen=True, eq=False)
class MNIST:
    """The MNIST arrays, all read-only (index or copy them to get writable arrays).

    x_train: (60000, 28, 28) uint8, 0 = background .. 255 = ink.
    y_train: (60000,) int64 digit labels in 0..9.
    x_test: (10000, 28, 28) uint8.
    y_test: (10000,) int64.
    folder: the folder the four files were read from.
    Use `to_nchw_float(mnist.x_train)` for network input of shape (N, 1, 28, 28).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    folder: Path


@dataclass(frozen=True)
class FileReport:
    """What `verify_mnist` found for one file; `error` is None when it is structurally valid."""

    spec: MnistFile
    path: Path | None  # None when the file is missing
    shape: tuple[int, ...] | None = None
    md5: str | None = None  # of the file as stored
    error: str | None = None

    @property
    def md5_matches(self) -> bool | None:
        """True/False for a .gz file, None when there is nothing to compare (missing, uncompressed)."""
        expected = _official_md5(self.path, self.spec) if self.path is not None else None
        return None if expected is None or self.md5 is None else self.md5 == expected


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


def default_cache_dir() -> Path:
    """The per-user cache folder: platformdirs' user data dir for "cnnkit", subfolder "mnist"."""
    return platformdirs.user_data_path("cnnkit") / "mnist"


def resolve_data_dir(data_dir: str | Path | None = None,
                     cache_dir: str | Path | None = None) -> tuple[Path, str]:
    """The folder to read MNIST from and where that choice came from.

    Returns (folder, source) with source "data_dir", ENV_VAR ("CNNKIT_DATA") or "cache". The cache
    folder is `cache_dir` if given, else `default_cache_dir()`.
    """
    if data_dir is not None:
        return Path(data_dir), "data_dir"
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]), ENV_VAR
    return (Path(cache_dir) if cache_dir is not None else default_cache_dir()), "cache"


def find_file(folder: Path, spec: MnistFile) -> Path | None:
    """The .gz file of `spec` in `folder`, else its uncompressed form, else None."""
    for name in (spec.filename, spec.raw_filename):
        if (folder / name).is_file():
            return folder / name
    return None


def read_mnist_file(path: str | Path, spec: MnistFile) -> tuple[np.ndarray, str]:
    """Read and structurally validate one MNIST file (gzip if its name ends in ".gz").

    Returns (values, md5 of the stored file): values is (N, 28, 28) uint8 for images or (N,)
    int64 for labels, read-only. Raises IdxError naming the file and what is wrong.
    """
    path = Path(path)
    raw = path.read_bytes()
    values = _decode(raw, str(path), path.suffix == ".gz", spec)
    return values, hashlib.md5(raw).hexdigest()


def _decode(raw: bytes, name: str, compressed: bool, spec: MnistFile) -> np.ndarray:
    data = gunzip(raw, name) if compressed else raw
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
    """The official md5 applies to the .gz file only."""
    return spec.md5 if path.name == spec.filename else None


def _validate_download(path: Path, spec: MnistFile) -> None:
    """Structural check of a downloaded temporary file, reported under the file's real name."""
    _decode(path.read_bytes(), spec.filename, True, spec)


def download_mnist(dest: str | Path | None = None, *, mirrors: Sequence[str] = MIRRORS,
                   md5s: Mapping[str, str] | None = None, force: bool = False, retries: int = 2,
                   timeout: float = 30.0, backoff: float = 1.0, quiet: bool = False) -> Path:
    """Download the MNIST files missing from `dest` (default: `default_cache_dir()`); return `dest`.

    A file already present (.gz or uncompressed) is kept unless `force`; even then it is only
    replaced by a download that passed every check. Each download must match its official md5,
    or the md5 given for its filename in `md5s`. `mirrors`, `retries`, `timeout`, `backoff` and
    `quiet` are passed to `download_file`; raises DownloadError (ChecksumError) on failure.
    """
    dest = Path(dest) if dest is not None else default_cache_dir()
    md5s = md5s or {}
    for spec in FILES:
        if force or find_file(dest, spec) is None:
            download_file(spec.filename, dest, mirrors, md5=md5s.get(spec.filename, spec.md5),
                          validate=partial(_validate_download, spec=spec), retries=retries,
                          timeout=timeout, backoff=backoff, quiet=quiet, hint=OFFLINE_HINT)
    return dest


def load_mnist(data_dir: str | Path | None = None, download: bool = True, *,
               cache_dir: str | Path | None = None, mirrors: Sequence[str] = MIRRORS,
               quiet: bool = False) -> MNIST:
    """Load MNIST from the folder chosen by `resolve_data_dir` (see the module docstring).

    Only the cache folder is ever downloaded into (missing files, if `download`). Raises
    FileNotFoundError if the folder or a file is missing, IdxError if a file is malformed,
    DownloadError if a download fails; warns (ChecksumWarning) if a .gz file is valid but its
    md5 is not the official one. Returns an `MNIST` (x: (N, 28, 28) uint8, y: (N,) int64).
    """
    folder, source = resolve_data_dir(data_dir, cache_dir)
    if source == "cache" and download:
        download_mnist(folder, mirrors=mirrors, quiet=quiet)
    paths = _require_files(folder, source, can_download=source == "cache")
    arrays = []
    for spec, path in zip(FILES, paths, strict=True):
        values, md5 = read_mnist_file(path, spec)
        expected = _official_md5(path, spec)
        if expected is not None and md5 != expected:
            warnings.warn(_mismatch_message(path, expected, md5), ChecksumWarning, stacklevel=2)
        arrays.append(values)
    return MNIST(*arrays, folder=folder)


def _require_files(folder: Path, source: str, can_download: bool) -> list[Path]:
    """The path of each of the four files in `folder`; FileNotFoundError listing what is missing."""
    where = f"MNIST folder {folder} (from {source})"
    if not folder.is_dir():
        missing = f"{where} does not exist"
    else:
        paths = [find_file(folder, spec) for spec in FILES]
        absent = [spec.filename for spec, path in zip(FILES, paths, strict=True) if path is None]
        if not absent:
            return paths
        missing = f"{where} lacks {', '.join(absent)} (nor has them uncompressed)"
    hint = (f"; run `cnnkit data download` or call load_mnist(download=True). {OFFLINE_HINT}"
            if can_download else "")
    raise FileNotFoundError(missing + hint)


def _mismatch_message(path: Path, expected: str, actual: str) -> str:
    return (f"{path}: md5 {actual} differs from the official {expected}; the file is structurally "
            "valid MNIST and is used as is")


def verify_mnist(data_dir: str | Path | None = None,
                 cache_dir: str | Path | None = None) -> tuple[Path, list[FileReport]]:
    """Check the four files of the folder chosen by `resolve_data_dir`, without raising.

    Returns (folder, one FileReport per file in `FILES` order).
    """
    folder, _ = resolve_data_dir(data_dir, cache_dir)
    return folder, [_report(folder, spec) for spec in FILES]


def _report(folder: Path, spec: MnistFile) -> FileReport:
    path = find_file(folder, spec)
    if path is None:
        return FileReport(spec, None, error=f"{folder / spec.filename}: missing")
    try:
        values, md5 = read_mnist_file(path, spec)
    except (IdxError, OSError) as e:
        return FileReport(spec, path, error=str(e))
    return FileReport(spec, path, values.shape, md5)
