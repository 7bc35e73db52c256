"""The phases table: the one place that says what each phase is.

Phases 1-9 are the core (100 points); the bonus phases after them are the guide's extensions,
graded as extra credit unless a course's `cnnkit.toml` switches them off (`cnnkit.config`).
Stub messages (`cnnkit release`), pytest markers (`pytest -m phase3`), points (`cnnkit check`,
`cnnkit grade`, nbgrader) and the student docs are all generated from `PHASES`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Phase:
    number: int
    name: str  # short identifier: marker suffix, CSV column, nbgrader cell id
    title: str  # what a student sees in tables
    tasks: tuple[str, ...]  # "file::qualname" of each function/method the student writes
    points: float
    bonus: bool = False  # extra credit from the guide's extensions; instructors may switch it off
    # The student's earlier code this phase's tests run (a backward gets its cache from the
    # student's forward; layers call the functions): tasks, or a phase number for all its tasks.
    # The grader serves some of them from the reference (each hidden suite's PATCHES).
    builds_on: tuple[int | str, ...] = ()

    @property
    def marker(self) -> str:
        return f"phase{self.number}"

    @property
    def label(self) -> str:
        """"Phase 3", or "Bonus phase 10"."""
        return f"{'Bonus phase' if self.bonus else 'Phase'} {self.number}"

    @property
    def worth(self) -> str:
        """"10 points", or "5 extra-credit points" for a bonus phase."""
        return f"{self.points:g} {'extra-credit ' if self.bonus else ''}points"

    @property
    def files(self) -> tuple[str, ...]:
        """The student's files for this phase, relative to the `scratchcnn` package."""
        return tuple(dict.fromkeys(t.split("::")[0] for t in self.tasks))

    def stub_message(self, task: str) -> str:
        file, qualname = task.split("::")
        return f"Phase {self.number} ({self.title}): implement {qualname} in scratchcnn/{file}"


PHASES: tuple[Phase, ...] = (
    Phase(1, "conv_naive", "naive convolution",
          ("conv.py::conv2d_forward_naive",), 10),
    Phase(2, "im2col", "im2col and fast convolution",
          ("conv.py::im2col", "conv.py::conv2d_forward"), 15),
    Phase(3, "conv_backward", "col2im and convolution backward",
          ("conv.py::col2im", "conv.py::conv2d_backward"), 15,
          builds_on=("conv.py::im2col", "conv.py::conv2d_forward")),
    Phase(4, "pool_forward", "max-pool forward",
          ("pool.py::max_pool_forward",), 10),
    Phase(5, "pool_backward", "max-pool backward",
          ("pool.py::max_pool_backward",), 10,
          builds_on=("pool.py::max_pool_forward",)),
    Phase(6, "flatten", "flatten",
          ("layers.py::flatten_forward", "layers.py::flatten_backward"), 5),
    Phase(7, "dense", "dense, ReLU and softmax cross-entropy",
          ("layers.py::dense_forward", "layers.py::dense_backward", "layers.py::relu_forward",
           "layers.py::relu_backward", "layers.py::softmax_cross_entropy"), 10),
    Phase(8, "cnn", "conv/pool layers, CNN model and SGD",
          ("layers.py::Conv2D.forward", "layers.py::Conv2D.backward",
           "layers.py::MaxPool2D.forward", "layers.py::MaxPool2D.backward",
           "model.py::CNN.forward", "model.py::CNN.backward", "model.py::SGD.step"), 10,
          builds_on=(2, 3, 4, 5, 6, 7)),
    Phase(9, "train", "training to 99% on MNIST",
          ("train.py::train_epoch",), 15, builds_on=(2, 3, 4, 5, 6, 7, 8)),
    # Bonus phases: the guide's extensions, graded as extra credit on top of MAX_TOTAL.
    Phase(10, "avg_pool", "average and global average pooling",
          ("pool.py::avg_pool_forward", "pool.py::avg_pool_backward",
           "pool.py::global_avg_pool_forward", "pool.py::global_avg_pool_backward"), 5, bonus=True),
    Phase(11, "receptive_field", "receptive-field calculator",
          ("model.py::receptive_field",), 5, bonus=True),
    Phase(12, "batchnorm", "batch normalisation",
          ("blocks.py::BatchNorm2D.forward", "blocks.py::BatchNorm2D.backward"), 5, bonus=True),
    Phase(13, "dropout_residual", "dropout and the residual block",
          ("blocks.py::Dropout.forward", "blocks.py::Dropout.backward",
           "blocks.py::ResidualBlock.forward", "blocks.py::ResidualBlock.backward"), 5, bonus=True,
          builds_on=(2, 3, "layers.py::relu_forward", "layers.py::relu_backward",
                     "layers.py::Conv2D.forward", "layers.py::Conv2D.backward")),
)

CORE_PHASES: tuple[Phase, ...] = tuple(p for p in PHASES if not p.bonus)
BONUS_PHASES: tuple[Phase, ...] = tuple(p for p in PHASES if p.bonus)
MAX_TOTAL: float = sum(p.points for p in CORE_PHASES)  # bonus points come on top of this
BONUS_TOTAL: float = sum(p.points for p in BONUS_PHASES)
# Phase 9: the trained model (`cnnkit train` saves it) that a student hands in beside scratchcnn/.
SUBMITTED_MODEL = "model.npz"


def phase(number: int) -> Phase:
    """The phase with this number (1-based)."""
    for p in PHASES:
        if p.number == number:
            return p
    raise ValueError(f"phase must be one of 1..{len(PHASES)} (got {number!r})")


def task_owner(task: str) -> Phase:
    """The phase in which the student writes `task` ("layers.py::Conv2D.forward")."""
    for p in PHASES:
        if task in p.tasks:
            return p
    raise KeyError(f"{task} is not a task of any phase in cnnkit/phases.py")


def suspects(number: int, failing: set[int], served: tuple[str, ...] = ()) -> str:
    """A sentence for a failing phase when an earlier phase whose code it runs fails too, else "".

    served: the tasks ("conv.im2col", "layers.Conv2D") that the grader takes from the reference
    in this phase's suite: the student's versions of those cannot be the cause.
    """
    def is_served(task: str) -> bool:
        file, qualname = task.split("::")
        dotted = f"{file.removesuffix('.py')}.{qualname}"
        return any(dotted == s or dotted.startswith(s + ".") for s in served)

    used = [t for entry in phase(number).builds_on
            for t in (phase(entry).tasks if isinstance(entry, int) else (entry,))]
    owners = {task_owner(t).number for t in used if not is_served(t)}
    earlier = [phase(m) for m in sorted(owners & failing)]
    if not earlier:
        return ""
    names = " and ".join(f"{p.number} ({p.title})" for p in earlier)
    if len(earlier) == 1:
        return (f"Phase {names} fails too, and these tests run your code from it: fix it first, "
                f"as it may be why this phase fails.")
    return (f"Phases {names} fail too, and these tests run your code from them: fix those first, "
            f"as they may be why this phase fails.")
