"""Where a student's code went wrong: the file, line and code of their deepest frame.

An exception raised while the kit runs a student's `scratchcnn` passes through the kit's own
code (the trainer, the data-parallel wrapper, a test) and often ends in NumPy; the line that
matters is the last one in the student's package. `student_line(err, package)` finds it, in
the exception's traceback or in the traceback text a worker process sent back
(`cnnkit.parallel.RemoteTraceback`), and `describe(err, package)` says it in two lines:

    ValueError: zero-size array to reduction operation maximum which has no identity
      in your scratchcnn/pool.py, line 41, in max_pool_forward: out = view.max(axis=(4, 5))
"""

from __future__ import annotations

import linecache
import re
import traceback
from dataclasses import dataclass
from pathlib import Path

# A frame line of a formatted traceback: File "/path/x.py", line 12, in name
FRAME_TEXT = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<name>\S+)')


@dataclass(frozen=True)
class StudentLine:
    file: str  # relative to the folder holding scratchcnn/: "scratchcnn/pool.py"
    line: int
    function: str
    code: str

    def __str__(self) -> str:
        code = f": {self.code}" if self.code else ""
        return f"in your {self.file}, line {self.line}, in {self.function}{code}"


def _inside(filename: str, package: Path) -> bool:
    """True for the student's own modules in `package`; the kit's helpers there (_checks.py,
    raising on bad arguments) are skipped for the student's line that called them."""
    try:
        path = Path(filename).resolve()
    except (OSError, ValueError):
        return False
    return path.is_relative_to(package) and not path.name.startswith("_")


def _frames(err: BaseException) -> list[tuple[str, int, str]]:
    """(file, line, function) of the frames of `err`, outermost first; an exception re-raised
    from a worker process (its cause a RemoteTraceback) continues with the worker's frames."""
    frames = [(f.filename, f.lineno or 0, f.name) for f in traceback.extract_tb(err.__traceback__)]
    if type(err.__cause__).__name__ == "RemoteTraceback":
        frames += [(m["file"], int(m["line"]), m["name"])
                   for m in FRAME_TEXT.finditer(str(err.__cause__))]
    return frames


def _chain(err: BaseException) -> list[BaseException]:
    """`err`, its cause or context, theirs, ... (no cycles)."""
    chain: list[BaseException] = []
    while err is not None and err not in chain:
        chain.append(err)
        err = err.__cause__ or err.__context__
    return chain


def student_error(err: BaseException, package: Path) -> tuple[BaseException, StudentLine] | None:
    """The first exception of `err`'s chain that passed through the package folder `package`
    (.../scratchcnn), and its deepest frame there; None if none did. (The chain matters when
    the kit raised while handling the student's error, as pytest does for a module that fails
    to import.)"""
    package = Path(package).resolve()
    for exc in _chain(err):
        hits = [frame for frame in _frames(exc) if _inside(frame[0], package)]
        if isinstance(exc, SyntaxError) and exc.filename and _inside(exc.filename, package):
            hits.append((exc.filename, exc.lineno or 0, "<module>"))  # where parsing stopped
        if hits:
            filename, line, function = hits[-1]
            code = linecache.getline(filename, line).strip()
            return exc, StudentLine(Path(filename).resolve().relative_to(package.parent).as_posix(),
                                    line, function, code)
    return None


def student_line(err: BaseException, package: Path) -> StudentLine | None:
    """The deepest frame of `err` (or of the exception it was raised from) in the student's
    package folder `package`, or None."""
    found = student_error(err, package)
    return found[1] if found else None


def one_line(err: BaseException) -> str:
    """"ValueError: message", the message's first line only."""
    message = str(err).strip().splitlines()
    return f"{type(err).__name__}: {message[0]}" if message else type(err).__name__


def describe(err: BaseException, package: Path) -> str:
    """The error in one line, then where in the student's package it happened (when it did;
    a stub's NotImplementedError names its file and function itself)."""
    where = None if isinstance(err, NotImplementedError) else student_line(err, package)
    return one_line(err) + (f"\n  {where}" if where else "")
