"""`cnnkit compare TASK`: your function against the reference, on the same random inputs.

For a self-learner: runs one task of an implementation (default: assignments) and of the
reference on the cases of `cnnkit.compare_cases` (every task of every phase, named as the phases
table names it: `im2col`, `Conv2D.backward`, `SGD.step`, `train_epoch`, ...) and shows, case by
case, where they first differ, naming inputs and outputs as the docstrings do. Backward tasks run
each implementation's own forward first, for its own cache; `train_epoch` is replayed through
the reference as Phase 9's grader does (`cnnkit.compare_train`). An exception in your code is
shown with the line of your code it came from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .blame import describe
from .compare_cases import TASKS
from .compare_train import compare_epoch, train_cases
from .paths import KIT_ROOT, import_scratchcnn, resolve_impl

MODULES = ("conv", "pool", "layers", "model", "train")
TOLERANCES = {False: (1e-5, 1e-7), True: (1e-4, 1e-5)}  # float64 tasks, float32 layer classes
CHOICES = (*TASKS, "train_epoch")


def show(name: str, value) -> str:
    """One input in words: "x (2, 3, 7, 6)", "stride=2", "grads: 3 steps"."""
    if isinstance(value, np.ndarray):
        return f"{name} {value.shape}"
    if isinstance(value, dict):
        return f"{name} " + "{" + ", ".join(f"{k!r}: {v.shape}" for k, v in value.items()) + "}"
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return f"{name}: {len(value)} steps"
    return f"{name}={value!r}"


def describe_case(task: str, case: dict) -> str:
    """The case's inputs that `task` uses, in the docstring's order, and its note."""
    unused = set() if task.endswith("backward") else {"dout"}
    text = ", ".join(show(k, v) for k, v in case.items() if k not in unused | {"note"})
    return text + (f" ({case['note']})" if "note" in case else "")


def first_difference(got: dict, expected: dict, rtol: float, atol: float) -> str | None:
    """None if every named output matches, else one plain line saying where it first differs."""
    for name, e in expected.items():
        if name not in got:
            return f"no {name}"
        g, e = got[name], np.asarray(e)
        if g is None:
            return f"{name} is missing (None), the reference's is an ndarray {e.shape}"
        if (not isinstance(g, np.ndarray) and not np.isscalar(g)):
            return f"{name} is {type(g).__name__}, the reference's an ndarray {e.shape}"
        g = np.asarray(g)
        if g.shape != e.shape:
            return f"{name} has shape {g.shape}, the reference's {e.shape}"
        bad = ~np.isclose(g, e, rtol=rtol, atol=atol)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            at = f" at index {list(index)}" if index else ""
            return (f"{name}{at}: reference {e[index]:.6g}, yours {g[index]:.6g} "
                    f"({int(bad.sum())} of {bad.size} values differ)")
    return None


def run_case(task: str, yours, reference, case: dict) -> str | None:
    if task == "train_epoch":
        pair = compare_epoch(yours, reference, case)
        if isinstance(pair, str):
            return pair
        return first_difference(*pair, *TOLERANCES[True])
    spec = TASKS[task]
    expected = spec.call(reference, case)
    return first_difference(spec.call(yours, case), expected, *TOLERANCES[spec.float32])


def compare(task: str, impl: Path, seed: int = 0) -> list[tuple[str, str | None]]:
    """(case description, difference or None) for each case of `task`."""
    reference = import_scratchcnn(KIT_ROOT / "solutions", MODULES, "_cnnkit_reference")
    try:
        yours = import_scratchcnn(impl, MODULES)
    except Exception as err:  # the student's package: whatever stops it importing is theirs
        return [("importing your scratchcnn", "raised " + describe(err, impl / "scratchcnn"))]
    cases = train_cases if task == "train_epoch" else TASKS[task].cases
    results = []
    for case in cases(np.random.default_rng(seed)):
        try:
            difference = run_case(task, yours, reference, case)
        except NotImplementedError as err:
            difference = f"not started: {err}"
        except Exception as err:  # a self-learner wants to see their error, not a traceback wall
            difference = "raised " + describe(err, impl / "scratchcnn")
        results.append((describe_case(task, case), difference))
    return results


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare", help="compare one of your functions with the reference on random inputs")
    parser.add_argument("function", choices=CHOICES, metavar="TASK", help=", ".join(CHOICES))
    parser.add_argument("--impl", default="assignments",
                        help="'assignments' (default) or a folder holding scratchcnn/")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    parser.set_defaults(func=run)


def run(args) -> int:
    results = compare(args.function, resolve_impl(args.impl), args.seed)
    for description, difference in results:
        print(f"{'same' if difference is None else 'DIFFERS':8} {args.function}({description})")
        if difference:
            print("         " + difference.replace("\n", "\n         "))
    same = sum(d is None for _, d in results)
    print(f"{same} of {len(results)} cases match the reference")
    return 0 if same == len(results) else 1
