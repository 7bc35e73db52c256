"""Download one file from a list of mirrors, safely (standard-library urllib, tqdm progress bar).

Each attempt streams into a temporary file next to the destination, checks the byte count
against Content-Length, runs an optional structural check, compares the md5 and only then moves
the file into place with os.replace. A failed attempt deletes its temporary file, so a partial or
wrong download never takes the place of a file, good or bad, that is already there.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

CHUNK_SIZE = 1 << 20
USER_AGENT = "cnnkit-data (Python urllib)"


@dataclass(frozen=True)
class MirrorFailure:
    """Why one mirror did not deliver the file, after `attempts` tries."""

    url: str
    reason: str
    attempts: int
    bad_checksum: bool = False

    def __str__(self) -> str:
        tries = f" ({self.attempts} attempts)" if self.attempts > 1 else ""
        return f"{self.url}: {self.reason}{tries}"


class DownloadError(RuntimeError):
    """The file could not be downloaded; `failures` lists each mirror tried and its reason."""

    def __init__(self, message: str, failures: Sequence[MirrorFailure] = ()):
        super().__init__(message)
        self.failures = tuple(failures)


class ChecksumError(DownloadError):
    """Every mirror that answered served a file whose md5 differs from the expected one."""


class _MirrorError(Exception):
    """An attempt failed on the mirror's side; `retry` says whether the same mirror may do better."""

    def __init__(self, reason: str, retry: bool, bad_checksum: bool = False):
        super().__init__(reason)
        self.reason, self.retry, self.bad_checksum = reason, retry, bad_checksum


def download_file(filename: str, dest_dir: str | Path, mirrors: Sequence[str], *,
                  md5: str | None = None, validate: Callable[[Path], object] | None = None,
                  retries: int = 2, timeout: float = 30.0, backoff: float = 1.0,
                  quiet: bool = False, hint: str = "") -> Path:
    """Download `filename` into `dest_dir` from the first mirror (base URL) that serves it intact.

    Mirrors are tried in order; on a transient failure (connection error, timeout, HTTP 5xx or
    429, truncated transfer) the same mirror is retried `retries` more times, waiting `backoff`,
    then 2*`backoff`, ... seconds. A content failure (`validate` raised ValueError, md5 differs from
    `md5`) or another HTTP error moves on to the next mirror at once. `timeout` (seconds) bounds
    each connection and each read. Returns the path of the new file (replacing any file there).

    Raises ChecksumError if every mirror served a file with the wrong md5, DownloadError naming
    each mirror URL and reason otherwise (`hint` is appended to the message), and DownloadError at
    once when the temporary file cannot be written (e.g. no space left on the device).
    """
    _check_arguments(mirrors, retries, timeout, backoff)
    dest = Path(dest_dir) / filename
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        failure = _try_mirror(url, dest, md5, validate, retries, timeout, backoff, quiet)
        if failure is None:
            return dest
        failures.append(failure)
    raise _all_failed(filename, failures, hint)


def _check_arguments(mirrors: Sequence[str], retries: int, timeout: float, backoff: float) -> None:
    if isinstance(mirrors, str | bytes):
        raise TypeError(f"mirrors must be a sequence of base URLs (got a single {type(mirrors).__name__})")
    if not mirrors:
        raise ValueError("mirrors must name at least one base URL (got none)")
    if retries < 0:
        raise ValueError(f"retries must be >= 0 (got {retries})")
    if timeout <= 0:
        raise ValueError(f"timeout must be > 0 seconds (got {timeout})")
    if backoff < 0:
        raise ValueError(f"backoff must be >= 0 seconds (got {backoff})")


def _try_mirror(url: str, dest: Path, md5: str | None, validate: Callable[[Path], object] | None,
                retries: int, timeout: float, backoff: float, quiet: bool) -> MirrorFailure | None:
    """Try `url` up to 1 + `retries` times; None on success, else the last failure."""
    for attempt in range(1, retries + 2):
        try:
            _attempt(url, dest, md5, validate, timeout, quiet)
            return None
        except _MirrorError as e:
            failure = MirrorFailure(url, e.reason, attempt, e.bad_checksum)
            if not e.retry:
                break
        if attempt <= retries:
            time.sleep(backoff * 2 ** (attempt - 1))
    return failure


def _attempt(url: str, dest: Path, md5: str | None, validate: Callable[[Path], object] | None,
             timeout: float, quiet: bool) -> None:
    """One try: stream `url` into a temporary file next to `dest`, check it, move it to `dest`."""
    part = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.part")
    try:
        with _writing(part), open(part, "xb") as out:
            digest = _fetch(url, out, part, timeout, quiet, dest.name)
            out.flush()
            os.fsync(out.fileno())
        _check_content(part, digest, md5, validate)
        os.replace(part, dest)
    except BaseException:  # also Ctrl-C: never leave a partial file behind
        part.unlink(missing_ok=True)
        raise


def _fetch(url: str, out: BinaryIO, part: Path, timeout: float, quiet: bool, label: str) -> str:
    """Stream the body of `url` into `out`; return its md5 hex digest. Raises _MirrorError."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    digest = hashlib.md5()
    received = 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            expected = _content_length(response)
            with tqdm(total=expected, desc=label, unit="B", unit_scale=True, unit_divisor=1024,
                      disable=quiet, leave=False) as bar:
                while chunk := response.read(CHUNK_SIZE):
                    with _writing(part):
                        out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as e:
        raise _MirrorError(f"HTTP {e.code} {e.reason}", retry=e.code >= 500 or e.code == 429) from e
    except urllib.error.URLError as e:  # could not connect: refused, unknown host, timeout...
        raise _MirrorError(f"cannot connect ({e.reason})", retry=True) from e
    except TimeoutError as e:
        raise _MirrorError(f"timed out after {timeout:g} s with {received} bytes received",
                           retry=True) from e
    except (OSError, http.client.HTTPException) as e:  # reset, bad status line, ...
        raise _MirrorError(f"connection failed ({type(e).__name__}: {e})", retry=True) from e
    # http.client's read(n) returns b"" when the peer closes early, so count the bytes ourselves.
    if expected is not None and received != expected:
        raise _MirrorError(f"truncated transfer: received {received} of {expected} bytes "
                           "(Content-Length)", retry=True)
    return digest.hexdigest()


def _content_length(response: http.client.HTTPResponse) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value is not None and value.isdigit() else None


def _check_content(part: Path, digest: str, md5: str | None,
                   validate: Callable[[Path], object] | None) -> None:
    """Structure first (it says *what* is wrong, e.g. a cut-off gzip), then the checksum."""
    if validate is not None:
        try:
            validate(part)
        except ValueError as e:
            raise _MirrorError(f"invalid file: {e} (file not kept)", retry=False) from e
    if md5 is not None and digest != md5.lower():
        raise _MirrorError(f"checksum mismatch: expected md5 {md5.lower()}, got {digest} "
                           "(file not kept)", retry=False, bad_checksum=True)


@contextmanager
def _writing(part: Path) -> Iterator[None]:
    """Turn an OSError from writing the temporary file into a DownloadError that stops everything:
    another mirror would not help."""
    try:
        yield
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DownloadError(f"no space left on the device holding {part.parent} while "
                                f"downloading {part.name} ({e.strerror}); free some space or "
                                "download to another folder") from e
        raise DownloadError(f"cannot write {part}: {e}") from e


def _all_failed(filename: str, failures: list[MirrorFailure], hint: str) -> DownloadError:
    lines = [f"could not download {filename} from any of {len(failures)} mirror(s):"]
    lines += [f"  {f}" for f in failures]
    if hint:
        lines.append(hint)
    error = ChecksumError if all(f.bad_checksum for f in failures) else DownloadError
    return error("\n".join(lines), failures)
