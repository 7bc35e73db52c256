"""The reference of the phases before phase N, as one file the sandboxed child can load.

Grading phase N on top of correct earlier phases means replacing some of the student's earlier
functions with the reference's (see `child.apply_patches`). The child gets only what it may
use: the reference modules with the solutions of phases >= N stubbed out, so a student's phase-N
code cannot call the reference's phase-N answer. The modules are joined into one namespace
(their relative imports dropped: the names they import are defined in the same file).
"""

from __future__ import annotations

import ast

from ..paths import KIT_ROOT
from ..release import stub_source

MODULES = ("_checks.py", "conv.py", "pool.py", "layers.py", "model.py")


def without_relative_imports(source: str) -> str:
    """`source` minus its `from .x import ...` statements (which may span several lines)."""
    drop = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            drop.update(range(node.lineno, node.end_lineno + 1))
    return "".join(line for number, line in enumerate(source.splitlines(keepends=True), start=1)
                   if number not in drop)


def support_source(phase_number: int) -> str:
    """The reference's phases 1..phase_number-1, later phases stubbed, as one module's source."""
    package = KIT_ROOT / "solutions" / "scratchcnn"
    parts = [f'"""Reference of phases 1-{phase_number - 1}, for grading phase {phase_number}."""\n']
    for name in MODULES:
        stubbed, _ = stub_source((package / name).read_text(), name,
                                 keep=lambda phase: phase.number < phase_number)
        parts.append(f"# --- {name}\n{without_relative_imports(stubbed)}")
    return "\n".join(parts)
