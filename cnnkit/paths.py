"""Where the kit's parts are, and which `scratchcnn` implementation a command should use."""

from __future__ import annotations

import os
from pathlib import Path

# The kit is used from its checkout (editable install): solutions/, assignments/ and autograder/
# sit beside the cnnkit package.
KIT_ROOT = Path(__file__).resolve().parent.parent
NAMED_IMPLS = {"solutions": KIT_ROOT / "solutions", "assignments": KIT_ROOT / "assignments"}


def resolve_impl(spec: str | os.PathLike) -> Path:
    """The folder holding a `scratchcnn/` package: "solutions", "assignments" or a path.

    A path may name the folder that holds `scratchcnn/` or the `scratchcnn/` folder itself.
    """
    path = NAMED_IMPLS.get(str(spec), Path(spec)).resolve()
    if path.name == "scratchcnn" and (path / "__init__.py").is_file():
        path = path.parent
    if not (path / "scratchcnn" / "__init__.py").is_file():
        raise FileNotFoundError(
            f"--impl must be 'solutions', 'assignments' or a folder holding scratchcnn/__init__.py "
            f"(got {spec!s}: no {path / 'scratchcnn' / '__init__.py'})")
    return path
