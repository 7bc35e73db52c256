"""TEST DOUBLE for `cnnkit grade SUBMISSION --json OUT` (the sandboxed grader, not ready yet).

Same command line and JSON schema as the real grader; deliberately simple rules:
- a task whose function still raises NotImplementedError (per its source) is not started;
- Phase 1 is also run for real: the student's conv2d_forward_naive against an einsum oracle on a
  hidden input (SECRET_SEED); its expected checksum (SECRET_CHECKSUM) must never reach students.
A phase scores its points when every task is written (and, for Phase 1, the check passes),
a share of them when some are, 0 when none is.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

SECRET_SEED = 918273645
SECRET_CHECKSUM_DIGITS = 6


def load_phases():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the kit, for the table
    from cnnkit.phases import PHASES
    return PHASES


def functions(path: Path) -> dict[str, ast.FunctionDef]:
    found = {}
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    found[f"{node.name}.{item.name}"] = item
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            found[node.name] = node  # the last definition wins, as at import time
    return found


def is_stub(node: ast.FunctionDef) -> bool:
    return any(isinstance(n, ast.Raise) and "NotImplementedError" in ast.unparse(n)
               for n in ast.walk(node))


def phase1_check(folder: Path) -> tuple[bool, str]:
    """Run conv2d_forward_naive on the hidden input; compare with the oracle."""
    import numpy as np
    sys.path.insert(0, str(folder))
    try:
        from scratchcnn.conv import conv2d_forward_naive
        rng = np.random.default_rng(SECRET_SEED)
        x, w, b = rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(4, 3, 3, 2)), rng.normal(size=4)
        windows = np.lib.stride_tricks.sliding_window_view(x, (3, 2), axis=(2, 3))[:, :, ::2, ::2]
        expected = np.einsum("nchwij,fcij->nfhw", windows, w) + b[None, :, None, None]
        got = conv2d_forward_naive(x, w, b, stride=2)
    except Exception as err:  # the student's code failed
        return False, f"conv2d_forward_naive raised {type(err).__name__}"
    if np.shape(got) != expected.shape:
        return False, f"output shape {np.shape(got)}, expected {expected.shape}"
    if not np.allclose(got, expected):
        return False, "values differ from a cross-correlation (is the filter flipped?)"
    return True, ""


def secret_checksum() -> str:
    """The hidden expected value, as text (the test looks for it in the feedback)."""
    import numpy as np
    rng = np.random.default_rng(SECRET_SEED)
    return f"{rng.normal():.{SECRET_CHECKSUM_DIGITS}f}"


def grade(folder: Path) -> dict:
    phases = []
    for phase in load_phases():
        tests = []
        for task in phase.tasks:
            file, qualname = task.split("::")
            node = functions(folder / "scratchcnn" / file).get(qualname)
            done = node is not None and not is_stub(node)
            tests.append({"name": f"{qualname} is written", "max_score": 1.0,
                          "score": 1.0 if done else 0.0, "passed": done,
                          "feedback": "" if done else f"{qualname} raises NotImplementedError"})
        if phase.number == 1 and tests[0]["passed"]:
            ok, why = phase1_check(folder)
            tests.append({"name": "conv2d_forward_naive hidden case", "max_score": 1.0,
                          "score": float(ok), "passed": ok, "feedback": why})
        share = sum(t["score"] for t in tests) / sum(t["max_score"] for t in tests)
        started = any(t["passed"] for t in tests[:len(phase.tasks)])
        status = ("passed" if share == 1 else "partial" if share > 0 else
                  "failed" if started else "not_started")
        score = phase.points if share == 1 else 0.0 if not started else \
            round(phase.points * share / 2, 2)
        phases.append({"phase": phase.number, "name": phase.name, "score": score,
                       "max_score": phase.points, "status": status, "tests": tests})
    return {"total": sum(p["score"] for p in phases),
            "max_total": sum(p["max_score"] for p in phases), "phases": phases}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("submission", type=Path)
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    result = grade(args.submission.resolve())
    args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
