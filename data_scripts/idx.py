"""The IDX file format (the container of the MNIST files), parsed with NumPy.

Layout, all integers big-endian: two zero bytes, one type-code byte, one byte `d` (the number of
dimensions), `d` uint32 sizes, then the values in C order. MNIST uses type code 0x08 (unsigned
byte), so its magic numbers are 0x00000801 = 2049 (labels, 1-D) and 0x00000803 = 2051 (images, 3-D).
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

# Type code -> dtype of the stored values (the format stores multi-byte values big-endian).
_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class IdxError(ValueError):
    """A file is not valid gzip or IDX, or not the IDX file expected; the message names the file."""


def ubyte_magic(ndim: int) -> int:
    """The magic number of an unsigned-byte IDX file with `ndim` dimensions (1 -> 2049, 3 -> 2051)."""
    return 0x0800 | ndim


def gunzip(raw: bytes, name: str) -> bytes:
    """Decompress the gzip bytes `raw` of the file `name`; IdxError if they are not a whole gzip stream."""
    try:
        return gzip.decompress(raw)
    except EOFError as e:  # the stream stops before its end marker: a cut-off file
        raise IdxError(f"{name}: truncated gzip data ({e})") from e
    except (OSError, zlib.error) as e:  # BadGzipFile (bad header, CRC or length) is an OSError
        raise IdxError(f"{name}: not a valid gzip file ({e})") from e


def parse_idx(data: bytes, name: str, expected_magic: int | None = None) -> np.ndarray:
    """Parse the (uncompressed) IDX bytes `data` of the file `name` into an array.

    Returns an array of the shape stored in the header, e.g. (60000, 28, 28) uint8 for the MNIST
    training images. Single-byte arrays are read-only views into `data` (no copy); wider types are
    converted to native byte order. Raises IdxError naming `name` if the header is wrong (or differs
    from `expected_magic`) or the payload size does not match the header.
    """
    if len(data) < 4:
        raise IdxError(f"{name}: too short for an IDX header (got {len(data)} bytes, need at least 4)")
    magic = int.from_bytes(data[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise IdxError(f"{name}: magic number must be {expected_magic} (got {magic})")
    if data[:2] != b"\0\0" or data[2] not in _DTYPES:
        raise IdxError(f"{name}: not an IDX file (magic number {magic:#010x} has no valid type code)")
    ndim = data[3]
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise IdxError(f"{name}: header of {ndim} dimensions needs {header_size} bytes (got {len(data)})")
    shape = tuple(int(n) for n in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = _DTYPES[data[2]]
    needed = math.prod(shape) * dtype.itemsize
    if len(data) - header_size != needed:
        raise IdxError(f"{name}: data for shape {shape} must be {needed} bytes "
                       f"(got {len(data) - header_size})")
    values = np.frombuffer(data, dtype, offset=header_size).reshape(shape)
    return values if dtype.itemsize == 1 else values.astype(dtype.newbyteorder("="))


def read_idx(path: str | Path, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file, gunzipping it if its name ends in ".gz"; see `parse_idx` for the result."""
    path = Path(path)
    raw = path.read_bytes()
    data = gunzip(raw, str(path)) if path.suffix == ".gz" else raw
    return parse_idx(data, str(path), expected_magic)
