"""`cnnkit gradescope OUT.zip`: the kit as a Gradescope autograder.

The zip holds setup.sh and run_autograder (from autograder/gradescope/) and, under kit/, the
parts of the kit grading needs: the cnnkit command, the grader with its hidden suites and
sandbox, the MNIST loader and the reference. Each submission is then graded in Gradescope's own
container by `cnnkit grade`, its sandbox included (bubblewrap, installed by setup.sh).
"""

from __future__ import annotations

import os
import stat
import tempfile
import zipfile
from pathlib import Path

from .. import config
from ..paths import KIT_ROOT

TEMPLATES = Path(__file__).with_name("gradescope")
KIT_PARTS = ("pyproject.toml", "README.md", "cnnkit", "autograder", "data_scripts",
             "solutions/scratchcnn")
EXECUTABLE = stat.S_IFREG | 0o755


def kit_files() -> list[Path]:
    files = []
    for part in KIT_PARTS:
        path = KIT_ROOT / part
        files += [path] if path.is_file() else sorted(
            p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return files


def build(out: Path, phases: list[int]) -> None:
    """Write the autograder zip to `out` (atomically); it grades `phases`."""
    run = (TEMPLATES / "run_autograder").read_text().replace(
        "@PHASES@", f"--phases {','.join(map(str, phases))}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in (("setup.sh", (TEMPLATES / "setup.sh").read_text()),
                               ("run_autograder", run)):
                info = zipfile.ZipInfo(name)
                info.external_attr = EXECUTABLE << 16
                archive.writestr(info, text)
            for path in kit_files():
                archive.write(path, f"kit/{path.relative_to(KIT_ROOT).as_posix()}")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def register(subparsers) -> None:
    parser = subparsers.add_parser("gradescope", help="build a Gradescope autograder zip")
    parser.add_argument("out", type=Path, help="the zip to write, e.g. autograder.zip")
    parser.add_argument("--phases", help="comma-separated phases to grade "
                        "(default: the configuration's; every phase, bonus included)")
    config.add_arguments(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    build(args.out, config.graded_numbers(args))
    print(f"wrote {args.out}: upload it as the assignment's autograder on Gradescope. "
          f"Gradescope's defaults (10 minutes, 768 MB, half a CPU) fit an honest submission: "
          f"under them the reference grades in about 30 s at 422 MiB, and a hanging one in "
          f"about 2.5 minutes. Only a submission that fills the sandbox's 4 processes of 1 GiB "
          f"on purpose needs more: set the autograder's memory to 6 GB to rule that out "
          f"(README, 'What runs where, and every bound').")
    return 0
