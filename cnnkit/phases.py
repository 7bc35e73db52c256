"""The phases table: the one place that says what each phase is.

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

    @property
    def marker(self) -> str:
        return f"phase{self.number}"

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
          ("conv.py::col2im", "conv.py::conv2d_backward"), 15),
    Phase(4, "pool_forward", "max-pool forward",
          ("pool.py::max_pool_forward",), 10),
    Phase(5, "pool_backward", "max-pool backward",
          ("pool.py::max_pool_backward",), 10),
    Phase(6, "flatten", "flatten",
          ("layers.py::flatten_forward", "layers.py::flatten_backward"), 5),
    Phase(7, "dense", "dense, ReLU and softmax cross-entropy",
          ("layers.py::dense_forward", "layers.py::dense_backward", "layers.py::relu_forward",
           "layers.py::relu_backward", "layers.py::softmax_cross_entropy"), 10),
    Phase(8, "cnn", "conv/pool layers, CNN model and SGD",
          ("layers.py::Conv2D.forward", "layers.py::Conv2D.backward",
           "layers.py::MaxPool2D.forward", "layers.py::MaxPool2D.backward",
           "model.py::CNN.forward", "model.py::CNN.backward", "model.py::SGD.step"), 10),
    Phase(9, "train", "training to 99% on MNIST",
          ("train.py::train_epoch",), 15),
)

MAX_TOTAL: float = sum(p.points for p in PHASES)
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
