"""A submitted `model.npz`, read as hostile input: the guide's CNN only, sizes checked first.

Phase 9's accuracy points come from the reference's forward pass on the student's weights, in
the grading process. So the file decides nothing about how much work that is: its architecture
must be the guide's, exactly, and every entry must be one the guide's CNN has, with a declared
size no larger than that entry needs, before a byte of it is decompressed. Object arrays,
pickles, foreign entries and malformed ones are the student's failed test with a reason.
"""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile
from pathlib import Path

import numpy as np

from ..models import layer_spec
from .suites.common import ref

MAX_FILE_BYTES = 16 * 1024**2  # the guide's CNN in float64 is 1.8 MB
MAX_ARCHITECTURE_BYTES = 64 * 1024
NPY_HEADER_BYTES = 4096  # a .npy header is at most this long for these shapes
# The student's forward pass must give the reference's logits on every test image, within this
# much of the row's largest logit (float32 rounding in another summation order is ~1e-6).
LOGIT_TOLERANCE = 1e-3


class ModelFileError(ValueError):
    """The submitted model file can't be used (said in the student's terms)."""


def guide_model():
    return ref.model.build_guide_cnn(rng=0)


def guide_layers() -> list[dict]:
    """The guide's architecture, as `cnnkit train` saves it (JSON: pairs are lists)."""
    return json.loads(json.dumps([layer_spec(layer) for layer in guide_model().layers]))


def guide_shapes() -> dict[str, tuple[int, ...]]:
    return {name: value.shape for name, value in guide_model().params.items()}


def read_bounded(path: Path, limit: int, name: str) -> bytes:
    """The bytes of regular file `path` (never through a link, never blocking), at most `limit`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ModelFileError(f"no {name} next to scratchcnn/ in your submission: train with "
                             f"`cnnkit train --impl assignments` and hand in the {name} it "
                             "saves") from None
    except OSError as exc:
        raise ModelFileError(f"{name} cannot be opened safely ({exc.strerror}: hand in a "
                             "regular file, not a link)") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ModelFileError(f"{name} is not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ModelFileError(f"{name} is larger than {limit // 1024**2} MiB; the guide's CNN "
                             "takes about 1 MB")
    return data


def read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, name: str):
    """One .npy entry, its declared size checked before it is decompressed."""
    if info.file_size > limit:
        raise ModelFileError(f"{name}: entry {info.filename!r} declares {info.file_size:,} "
                             f"bytes, more than the {limit:,} it can need")
    with archive.open(info) as entry:
        data = entry.read(limit + 1)
    if len(data) > limit:
        raise ModelFileError(f"{name}: entry {info.filename!r} is larger than it declares")
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # any parse failure of hostile bytes
        raise ModelFileError(f"{name}: entry {info.filename!r} is not a valid .npy array "
                             f"({type(exc).__name__})") from None


def read_model_file(path: Path, name: str = "model.npz") -> dict[str, np.ndarray]:
    """The parameters of a submitted model of the guide's CNN, as float32 arrays by name."""
    data = read_bounded(path, MAX_FILE_BYTES, name)
    shapes = guide_shapes()
    expected = {f"param:{k}.npy" for k in shapes} | {"architecture.npy"}
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = {info.filename: info for info in archive.infolist()}
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ModelFileError(f"{name} is not a model saved by cnnkit train ({exc})") from None
    if set(infos) != expected:
        odd = sorted(set(infos) ^ expected)[:5]
        raise ModelFileError(f"{name} must hold the guide's CNN, as `cnnkit train` saves it: "
                             f"entries {odd} are missing or not part of it")
    with archive:
        check_architecture(read_entry(archive, infos["architecture.npy"],
                                      MAX_ARCHITECTURE_BYTES, name), name)
        params = {}
        for key, shape in shapes.items():
            value = read_entry(archive, infos[f"param:{key}.npy"],
                               8 * int(np.prod(shape)) + NPY_HEADER_BYTES, name)
            if value.dtype.kind != "f" or value.shape != shape:
                raise ModelFileError(f"{name}: parameter {key} must be a float array of shape "
                                     f"{shape} (got {value.dtype} {value.shape})")
            if not np.all(np.isfinite(value)):
                raise ModelFileError(f"{name}: parameter {key} holds nan or inf values")
            params[key] = value.astype(np.float32)
    return params


def check_architecture(value: np.ndarray, name: str) -> None:
    try:
        layers = json.loads(str(value[()]))["layers"] if value.dtype.kind == "U" else None
    except (ValueError, TypeError, KeyError, IndexError):
        layers = None
    if layers != guide_layers():
        raise ModelFileError(f"{name}: Phase 9 grades the guide's CNN only (conv 32, pool, conv "
                             f"64, pool, dense 128, dense 10, as `cnnkit train` builds it); this "
                             "file describes another network")


def logit_mismatches(logits: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Indices of the images (rows) where the student's `logits` are not the reference's
    `expected` ones, both (N, 10)."""
    scale = 1 + np.abs(expected).max(axis=1, keepdims=True)
    return np.flatnonzero(np.any(~(np.abs(logits - expected) <= LOGIT_TOLERANCE * scale), axis=1))
