"""The byte formats that cross the sandbox's walls: frames, and values made of arrays.

Standard library and NumPy only: this file is bound read-only into the sandbox beside the child
harness (``child.py``), and the trusted side (``runner``, ``reference_server``) uses the same
functions. Whoever reads bytes written by the other side treats them as hostile: every frame's
length is checked against a bound before it is read, arrays are loaded without pickle and must be
plain numeric ndarrays, and a value tree is limited in size and depth.

A frame is ``kind`` (one byte), ``index`` (uint32) and ``length`` (uint32), then ``length`` bytes.
A value is a JSON header followed by the ``.npy`` bytes of its arrays::

    uint32 header length | header JSON | npy bytes of array 0 | npy bytes of array 1 | ...

where the header is ``{"value": TREE, "sizes": [bytes of each array]}`` and TREE is JSON with
``{"a": i}`` for array i, ``{"t": [...]}`` for a tuple, ``{"d": [[key, TREE], ...]}`` for a dict,
``{"h": n}`` for a handle (an object that stays on the side that made it), and plain JSON
scalars, strings and lists.
"""

import io
import json
import struct

FRAME = struct.Struct(">cII")
SIZE = struct.Struct(">I")
NUMERIC_KINDS = "biuf"
MAX_DEPTH = 8
MAX_ITEMS = 10_000


class WireError(ValueError):
    """Bytes from the other side that do not follow the format."""


class Handle:
    """An object that stays where it was made (a reference cache, a layer): sent as its number."""

    __slots__ = ("number",)

    def __init__(self, number):
        self.number = int(number)

    def __repr__(self):
        return f"<opaque handle {self.number}>"


def frame(kind, index, payload=b""):
    return FRAME.pack(kind, index, len(payload)) + payload


def read_exactly(read, size):
    """`size` bytes from `read` (a recv-like callable), or WireError at end of stream."""
    chunks, left = [], size
    while left:
        chunk = read(min(left, 1 << 20))
        if not chunk:
            raise WireError("the stream ended inside a frame")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(read, max_payload):
    """(kind, index, payload) of the next frame; None at a clean end of stream."""
    head = read(FRAME.size)
    if not head:
        return None
    head += read_exactly(read, FRAME.size - len(head)) if len(head) < FRAME.size else b""
    kind, index, length = FRAME.unpack(head)
    if length > max_payload:
        raise WireError(f"a frame of {length} bytes is larger than the limit of {max_payload}")
    return kind, index, read_exactly(read, length)


def encode(value, np):
    """The bytes of `value` (arrays, tuples, lists, dicts with str keys, scalars, Handles)."""
    blobs = []

    def tree(v, depth):
        if depth > MAX_DEPTH:
            raise TypeError("the value is nested too deeply")
        if isinstance(v, Handle):
            return {"h": v.number}
        if isinstance(v, np.ndarray):
            if v.dtype.kind not in NUMERIC_KINDS:
                raise TypeError(f"arrays of dtype {v.dtype} cannot be sent")
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(v), allow_pickle=False)
            blobs.append(buffer.getvalue())
            return {"a": len(blobs) - 1}
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, tuple):
            return {"t": [tree(item, depth + 1) for item in v]}
        if isinstance(v, list):
            return [tree(item, depth + 1) for item in v]
        if isinstance(v, dict):
            return {"d": [[str(k), tree(item, depth + 1)] for k, item in v.items()]}
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        raise TypeError(f"a {type(v).__name__} cannot be sent")

    header = json.dumps({"value": tree(value, 0), "sizes": [len(b) for b in blobs]}).encode()
    return SIZE.pack(len(header)) + header + b"".join(blobs)


def load_array(data, np):
    """A plain numeric ndarray from `.npy` bytes, or WireError."""
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # any parse failure of hostile bytes is a refusal
        raise WireError(f"not a valid .npy array ({type(exc).__name__})") from None
    if type(array) is not np.ndarray or array.dtype.kind not in NUMERIC_KINDS \
            or array.dtype.fields is not None:
        raise WireError("only plain bool, int, uint and float arrays are accepted")
    return array


def decode(data, np):
    """The value of `encode`'s bytes; WireError for anything malformed."""
    if len(data) < SIZE.size:
        raise WireError("a value needs a header")
    (length,) = SIZE.unpack_from(data)
    try:
        header = json.loads(data[SIZE.size:SIZE.size + length])
        sizes, root = header["sizes"], header["value"]
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise WireError("the value's header is not valid") from None
    if not (isinstance(sizes, list) and len(sizes) <= MAX_ITEMS
            and all(isinstance(s, int) and s >= 0 for s in sizes)
            and SIZE.size + length + sum(sizes) == len(data)):
        raise WireError("the value's array sizes do not add up")
    arrays, start = [], SIZE.size + length
    for size in sizes:
        arrays.append(load_array(data[start:start + size], np))
        start += size
    count = [0]

    def value(t, depth):
        count[0] += 1
        if depth > MAX_DEPTH or count[0] > MAX_ITEMS:
            raise WireError("the value is too large or too deeply nested")
        if isinstance(t, list):
            return [value(item, depth + 1) for item in t]
        if not isinstance(t, dict):
            return t
        if set(t) == {"a"} and isinstance(t["a"], int) and 0 <= t["a"] < len(arrays):
            return arrays[t["a"]]
        if set(t) == {"h"} and isinstance(t["h"], int):
            return Handle(t["h"])
        if set(t) == {"t"} and isinstance(t["t"], list):
            return tuple(value(item, depth + 1) for item in t["t"])
        if set(t) == {"d"} and isinstance(t["d"], list) and all(
                isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in t["d"]):
            return {k: value(item, depth + 1) for k, item in t["d"]}
        raise WireError("the value holds an unknown kind of entry")

    return value(root, 0)
