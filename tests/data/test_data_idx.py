"""cnnkit.data.idx: IDX parsing and gzip handling, on small files built by the tests."""

from __future__ import annotations

import gzip
import re
import struct

import numpy as np
import pytest

from cnnkit.data.idx import IdxError, gunzip, parse_idx, read_idx, ubyte_magic


def test_ubyte_magic_numbers_of_mnist():
    assert ubyte_magic(1) == 2049
    assert ubyte_magic(3) == 2051


def test_parse_uint8_images_round_trip(make_idx):
    values = np.random.default_rng(0).integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    parsed = parse_idx(make_idx(values), "imgs", expected_magic=2051)
    assert parsed.dtype == np.uint8
    np.testing.assert_array_equal(parsed, values)
    assert not parsed.flags.writeable  # a view into the bytes, no copy


def test_parse_big_endian_int32_to_native():
    values = np.array([[1, -2, 70000], [3, 2**31 - 1, -(2**31)]], dtype=np.int32)
    data = struct.pack(">I", 0x00000C02) + struct.pack(">2I", 2, 3) + values.astype(">i4").tobytes()
    parsed = parse_idx(data, "ints")
    assert parsed.dtype == np.dtype(np.int32)  # native byte order
    np.testing.assert_array_equal(parsed, values)


def test_bad_magic_names_file_expected_and_actual(make_idx):
    labels = make_idx(np.zeros(10, np.uint8))  # magic 2049
    message = "train-images-idx3-ubyte.gz: magic number must be 2051 (got 2049)"
    with pytest.raises(IdxError, match=re.escape(message)):
        parse_idx(labels, "train-images-idx3-ubyte.gz", expected_magic=2051)


def test_not_an_idx_file():
    with pytest.raises(IdxError, match=r"^notes\.txt: not an IDX file \(magic number 0x48656c6c"):
        parse_idx(b"Hello, world", "notes.txt")


def test_too_short_for_a_header():
    message = "f: too short for an IDX header (got 3 bytes, need at least 4)"
    with pytest.raises(IdxError, match=re.escape(message)):
        parse_idx(b"\0\0\x08", "f")


def test_header_with_missing_dimensions():
    data = struct.pack(">I", 0x00000803) + struct.pack(">I", 60000)  # 3 dims announced, 1 given
    with pytest.raises(IdxError, match=re.escape("f: header of 3 dimensions needs 16 bytes (got 8)")):
        parse_idx(data, "f")


@pytest.mark.parametrize("payload, got", [(5, 5), (7, 7)])
def test_payload_size_must_match_header(make_idx, payload, got):
    data = make_idx(np.zeros(payload, np.uint8), dims=(2, 3))
    with pytest.raises(IdxError, match=re.escape(f"f: data for shape (2, 3) must be 6 bytes (got {got})")):
        parse_idx(data, "f")


def test_gunzip_truncated_stream(make_idx):
    compressed = gzip.compress(make_idx(np.arange(200, dtype=np.uint8)))
    with pytest.raises(IdxError, match=r"^a\.gz: truncated gzip data"):
        gunzip(compressed[: len(compressed) // 2], "a.gz")


def test_gunzip_not_gzip():
    with pytest.raises(IdxError, match=r"^a\.gz: not a valid gzip file"):
        gunzip(b"\0\0\x08\x01plain idx", "a.gz")


def test_gunzip_corrupted_data_is_detected(make_idx):
    compressed = bytearray(gzip.compress(make_idx(np.arange(200, dtype=np.uint8))))
    compressed[-6] ^= 0xFF  # inside the CRC32 trailer
    with pytest.raises(IdxError, match=r"^a\.gz: not a valid gzip file \(CRC check failed"):
        gunzip(bytes(compressed), "a.gz")


def test_read_idx_gz_and_plain(tmp_path, make_idx):
    values = np.arange(12, dtype=np.uint8).reshape(3, 4)
    (tmp_path / "m.idx").write_bytes(make_idx(values))
    (tmp_path / "m.idx.gz").write_bytes(gzip.compress(make_idx(values)))
    np.testing.assert_array_equal(read_idx(tmp_path / "m.idx"), values)
    np.testing.assert_array_equal(read_idx(tmp_path / "m.idx.gz"), values)
    message = f"{tmp_path / 'm.idx'}: magic number must be 2051 (got 2050)"
    with pytest.raises(IdxError, match=re.escape(message)):
        read_idx(tmp_path / "m.idx", expected_magic=2051)
