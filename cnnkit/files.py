"""Writing files so that a crash mid-write never leaves a half file in place of a good one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def replace_atomically(path: Path, write) -> None:
    """Call write(temporary path) beside `path`, then move the finished file onto `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_atomic(path: Path, text: str) -> None:
    replace_atomically(path, lambda tmp: tmp.write_text(text, newline=""))


def write_json_atomic(path: Path, data) -> None:
    write_atomic(path, json.dumps(data, indent=1) + "\n")
