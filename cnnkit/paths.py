"""Where the kit's parts are, and which `scratchcnn` implementation a command should use."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import SimpleNamespace

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


def import_scratchcnn(folder: Path, modules: tuple[str, ...],
                      name: str = "scratchcnn") -> SimpleNamespace:
    """Import folder/scratchcnn as the package `name`; return its `modules` and `folder`.

    A package of that name imported from another folder is forgotten first, so one process can
    use several implementations one after the other, or two side by side under two names (the
    reference uses relative imports only, so it works under any name; a student's package keeps
    its own name in case it imports itself absolutely).
    """
    folder = Path(folder).resolve()
    loaded = sys.modules.get(name)
    if loaded is not None and Path(loaded.__file__).resolve().parent.parent != folder:
        for module in [n for n in sys.modules if n == name or n.startswith(name + ".")]:
            del sys.modules[module]
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, folder / "scratchcnn" / "__init__.py",
            submodule_search_locations=[str(folder / "scratchcnn")])
        package = importlib.util.module_from_spec(spec)
        sys.modules[name] = package
        spec.loader.exec_module(package)
    return SimpleNamespace(folder=folder, **{m: importlib.import_module(f"{name}.{m}")
                                             for m in modules})
