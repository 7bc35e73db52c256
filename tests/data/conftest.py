"""Fixtures for the cnnkit.data tests: the real MNIST (tests/conftest.py's `mnist_dir`) and
Fashion-MNIST files, IDX builders and loopback mirrors serving them.

The real MNIST folder may hold the official files (downloaded on a fresh machine) or the team's
copy, whose train-images is a reconstruction with another md5: tests that depend on which take
`unofficial`, the names of the files whose md5 differs from the official one."""

from __future__ import annotations

import dataclasses
import hashlib
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from cnnkit.data import DATASETS, FILES, get_dataset

FLAKY_FAILURES = 2  # the "flaky" mirror answers 503 this many times per file, then serves it
STALL_SECONDS = 5.0  # the "stall" mirror waits this long (or until teardown) before answering


@pytest.fixture(scope="session")
def mnist_bytes(mnist_dir: Path) -> dict[str, bytes]:
    """filename -> the bytes of that real file."""
    return {s.filename: (mnist_dir / s.filename).read_bytes() for s in FILES}


@pytest.fixture(scope="session")
def fashion_bytes(fashion_dir: Path) -> dict[str, bytes]:
    """filename -> the bytes of that Fashion-MNIST file of the Debian package (recompressed)."""
    return {s.filename: (fashion_dir / s.filename).read_bytes() for s in get_dataset("fashion").files}


@pytest.fixture(scope="session")
def served_md5(mnist_bytes: dict[str, bytes]) -> dict[str, str]:
    """filename -> md5 of the real file (the one the loopback mirror serves)."""
    return {name: hashlib.md5(data).hexdigest() for name, data in mnist_bytes.items()}


@pytest.fixture(scope="session")
def unofficial(served_md5: dict[str, str]) -> tuple[str, ...]:
    """Names of the real files whose md5 differs from the official one, in `FILES` order."""
    return tuple(s.filename for s in FILES if served_md5[s.filename] != s.md5)


def restamped(data: bytes) -> bytes:
    """The same gzip file with another modification time in its header: still valid, with the
    same content, but another md5."""
    return data[:4] + bytes(b ^ 0xFF for b in data[4:8]) + data[8:]


@pytest.fixture
def restamp() -> Callable[[bytes], bytes]:
    return restamped


def idx_bytes(values: np.ndarray, magic: int | None = None, dims: tuple[int, ...] | None = None) -> bytes:
    """Encode uint8 `values` as IDX by hand (independently of cnnkit.data.idx); `magic` and
    `dims` override the header to build broken files."""
    dims = values.shape if dims is None else dims
    magic = 0x0800 | len(dims) if magic is None else magic
    header = struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims)
    return header + np.ascontiguousarray(values, dtype=np.uint8).tobytes()


@pytest.fixture
def make_idx() -> Callable[..., bytes]:
    return idx_bytes


def link_mnist(src: Path, dest: Path, skip: tuple[str, ...] = ()) -> Path:
    """Fill `dest` with symlinks to the real files of `src` except those named in `skip`."""
    dest.mkdir(parents=True, exist_ok=True)
    for spec in FILES:
        if spec.filename not in skip:
            (dest / spec.filename).symlink_to(src / spec.filename)
    return dest


@pytest.fixture
def linked_mnist() -> Callable[..., Path]:
    return link_mnist


class _MirrorHandler(BaseHTTPRequestHandler):
    """GET /<mode>/<filename>: serves the real file the way `mode` says (see `mirror`)."""

    server: _MirrorServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        mode, _, name = self.path.strip("/").partition("/")
        self.server.hits[(mode, name)] += 1
        data = self.server.files.get(name)
        if data is None or mode == "missing":
            self.send_error(404)
        elif mode == "flaky" and self.server.hits[(mode, name)] <= FLAKY_FAILURES:
            self.send_error(503)
        elif mode == "stall":
            self.server.release.wait(STALL_SECONDS)
        elif mode == "restamped":
            self._send(restamped(data))
        elif mode == "corrupt":
            middle = len(data) // 2
            self._send(data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 16])
                       + data[middle + 16:])
        elif mode == "truncated":  # announces every byte, sends half, closes the connection
            self._send(data[: len(data) // 2], length=len(data))
        elif mode == "cutoff":  # no Content-Length: the client only sees the connection close
            self._send(data[: len(data) // 2], length=None)
        else:
            self._send(data)

    def _send(self, body: bytes, length: int | None = -1) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if length is not None:
            self.send_header("Content-Length", str(len(body) if length == -1 else length))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # keep the test output clean


class _MirrorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, files: dict[str, bytes]):
        super().__init__(("127.0.0.1", 0), _MirrorHandler)
        self.files = files
        self.hits: Counter[tuple[str, str]] = Counter()
        self.release = threading.Event()

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up (timeout test) makes the handler's write fail: expected

    def url(self, mode: str) -> str:
        """Base URL of one simulated mirror: good, restamped, corrupt, truncated, cutoff, flaky,
        stall, missing."""
        return f"http://127.0.0.1:{self.server_address[1]}/{mode}/"


@contextmanager
def serving(files: dict[str, bytes]) -> Iterator[_MirrorServer]:
    """A real HTTP server on 127.0.0.1 serving `files` (name -> bytes) while the block runs."""
    server = _MirrorServer(files)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def mirror(mnist_bytes: dict[str, bytes]) -> Iterator[_MirrorServer]:
    """A loopback mirror serving the real MNIST files, fresh hit counters per test."""
    with serving(mnist_bytes) as server:
        yield server


@pytest.fixture
def fashion_mirror(fashion_bytes: dict[str, bytes]) -> Iterator[_MirrorServer]:
    """A loopback mirror serving the Debian package's Fashion-MNIST files."""
    with serving(fashion_bytes) as server:
        yield server


@pytest.fixture
def refused_url() -> str:
    """A loopback base URL on which nothing listens (the port was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


@pytest.fixture
def system_dirs(monkeypatch):
    """Replace Fashion-MNIST's system install locations for one test; unset both env vars."""
    fashion = DATASETS["fashion"]
    monkeypatch.delenv(fashion.env_var, raising=False)
    monkeypatch.delenv(DATASETS["mnist"].env_var, raising=False)

    def use(*folders: Path) -> None:
        monkeypatch.setitem(DATASETS, "fashion", dataclasses.replace(fashion, system_dirs=folders))

    return use
