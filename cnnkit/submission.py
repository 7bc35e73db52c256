"""What a hand-in holds and how the grader will take it: `cnnkit check` and `cnnkit handin`.

A hand-in is the student's `scratchcnn/` task files (the files the phases table names) and, for
Phase 9, the `model.npz` that `cnnkit train --impl assignments` saved. The grader of Phase 9
(a) checks that the student's `train_epoch` trains: the batches it feeds the guide's CNN, from
the grader's initialisation, are replayed through the reference, and (b) counts the accuracy
of the reference's forward pass on the student's saved weights, on the 10,000 MNIST test
images, provided the student's own forward pass gives the same logits on every image. Only the
guide's architecture is accepted in model.npz. `inspect_model` measures (b) here, as far as the
local data allow.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .autograder.model_file import logit_mismatches
from .blame import describe
from .models import eval_mode, layer_spec, load_impl, load_model
from .paths import KIT_ROOT, import_scratchcnn
from .phases import PHASES, SUBMITTED_MODEL, Phase

PACKAGE = "scratchcnn"
TASK_FILES: tuple[str, ...] = tuple(dict.fromkeys(f for p in PHASES for f in p.files))
TARGET = 0.99  # test accuracy for Phase 9's full points
CHUNK = 500  # test images per forward call
# Where `cnnkit train` leaves the model, relative to the folder it ran in.
TRAINED_MODEL = Path("runs") / "cnn-seed0" / SUBMITTED_MODEL


@dataclass
class ModelReport:
    """What the grader will make of a model.npz: `problems` lose all its accuracy points,
    `shortfalls` some (below the target), `notes` inform."""
    path: Path | None
    problems: list[str] = field(default_factory=list)
    shortfalls: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    accuracy: float | None = None  # reference forward on the student's weights
    agreement: float | None = None  # share of test images where the two forwards agree


def stubbed_tasks(impl: Path, phase: Phase) -> list[str]:
    """The tasks of `phase` whose generated NotImplementedError is still in the student's file."""
    stubbed = []
    for task in phase.tasks:
        source = impl / PACKAGE / task.split("::")[0]
        if source.is_file() and repr(phase.stub_message(task)) in source.read_text():
            stubbed.append(task)
    return stubbed


def find_model(impl: Path, explicit: Path | None = None) -> Path | None:
    """The model to hand in: `explicit`, else model.npz beside scratchcnn/, else where
    `cnnkit train` saved it (in the current folder, beside scratchcnn/, in the kit)."""
    if explicit is not None:
        return explicit
    candidates = [impl / SUBMITTED_MODEL, Path.cwd() / TRAINED_MODEL, impl / TRAINED_MODEL,
                  KIT_ROOT / TRAINED_MODEL]
    return next((path for path in candidates if path.is_file()), None)


def impl_spec(impl: Path) -> str:
    """How to name `impl` on a command line: "assignments", or its path as short as it gets."""
    if impl.resolve() == (KIT_ROOT / "assignments").resolve():
        return "assignments"
    return min(str(impl), os.path.relpath(impl), key=len)


def reference_impl():
    """The reference's scratchcnn, under a name of its own (the student's keeps `scratchcnn`)."""
    return import_scratchcnn(KIT_ROOT / "solutions", ("layers", "model", "train"),
                             "_cnnkit_reference")


def guide_specs() -> list[dict]:
    """The guide's CNN as saved layer specs: the only architecture the grader accepts."""
    return [layer_spec(layer) for layer in reference_impl().model.build_guide_cnn(rng=0).layers]


def saved_specs(path: Path) -> list[dict]:
    """The layer specs stored in a model.npz (ValueError if it has none)."""
    with np.load(path, allow_pickle=False) as saved:
        if "architecture" not in saved.files:
            raise ValueError("no architecture entry: not a model saved by cnnkit train")
        return json.loads(str(saved["architecture"]))["layers"]


def test_set() -> tuple[np.ndarray, np.ndarray] | None:
    """MNIST's 10,000 test images (float NCHW) and labels, or None when they are not here."""
    from .data import load_mnist, to_nchw_float
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a non-official copy: `cnnkit data verify` says so
            mnist = load_mnist(download=False)
    except (OSError, ValueError):
        return None
    return to_nchw_float(mnist.x_test), mnist.y_test


def logits_of(model, x: np.ndarray) -> np.ndarray:
    with eval_mode(model):
        return np.concatenate([np.asarray(model.forward(x[i:i + CHUNK]))
                               for i in range(0, len(x), CHUNK)])


def inspect_model(impl: Path, path: Path | None, measure: bool = True) -> ModelReport:
    """Check the model.npz at `path` as Phase 9's grader will: present, the guide's
    architecture, loadable with the student's classes in `impl`; with `measure` and MNIST here,
    its test accuracy (reference forward) and the agreement of the student's forward."""
    report = ModelReport(path)
    if path is None or not path.is_file() or path.is_symlink():
        where = "no model.npz found" if path is None else f"{path} is not a regular file"
        report.problems.append(f"{where}: train with `cnnkit train --impl {impl_spec(impl)}` (it "
                               f"saves {TRAINED_MODEL}) or name it with --model; Phase 9's "
                               "accuracy points need it")
        return report
    try:
        if saved_specs(path) != guide_specs():
            report.problems.append(f"{path} is not the guide's CNN (cnnkit train --model cnn): "
                                   "the grader accepts only that architecture")
            return report
        reference, _ = load_model(path, reference_impl())
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as err:
        report.problems.append(f"{path} cannot be read as a cnnkit model: {err}")
        return report
    try:
        yours, _ = load_model(path, load_impl(impl))
    except Exception as err:  # the student's classes: any error is theirs to see
        report.problems.append(f"{path} does not load with your classes: "
                               f"{describe(err, impl / PACKAGE)}")
        return report
    if measure:
        measure_accuracy(report, reference, yours, impl)
    return report


def measure_accuracy(report: ModelReport, reference, yours, impl: Path) -> None:
    """Fill `report` with the test accuracy and the agreement of the two forward passes."""
    data = test_set()
    if data is None:
        report.notes.append("MNIST not found (set CNNKIT_DATA to its folder): accuracy not "
                            "measured here")
        return
    x, y = data
    expected = logits_of(reference, x)
    report.accuracy = float(np.mean(expected.argmax(axis=1) == y))
    try:
        got = logits_of(yours, x)
    except Exception as err:
        report.problems.append(f"your forward pass fails on the test images: "
                               f"{describe(err, impl / PACKAGE)}")
        return
    if got.shape != (len(x), 10) or not np.all(np.isfinite(got)):
        report.problems.append(f"your forward pass gives logits of shape {got.shape} (all finite: "
                               f"{bool(np.all(np.isfinite(got)))}); needs ({len(x)}, 10), finite")
        return
    mismatches = logit_mismatches(got, expected)
    report.agreement = 1 - len(mismatches) / len(x)
    report.notes.append(f"test accuracy {report.accuracy:.2%} on {len(x):,} MNIST test images "
                        f"(the reference's forward on your weights, as the grader counts it); "
                        f"your forward gives the same logits on {report.agreement:.2%} of them")
    if len(mismatches):
        report.problems.append(f"your forward pass gives other logits than the reference's on "
                               f"{len(mismatches):,} test images (first: image {mismatches[0]}): "
                               f"the grader counts no accuracy unless they agree on every one")
    if report.accuracy < TARGET:
        report.shortfalls.append(f"test accuracy {report.accuracy:.2%} is below the {TARGET:.0%} "
                               "that Phase 9's full points need")
