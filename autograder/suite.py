"""The building blocks of the hidden suites (autograder/suites/test_phase*.py).

A hidden suite is a pytest module of one phase. It declares

    PHASE = 3                       # the phase it grades
    PATCHES = ("conv.im2col",)      # earlier-phase functions replaced by the reference's
    def build_job(job): ...         # every call the student's code must answer, with its inputs

and tests that take the `student` fixture (see `plugin`): the answers of one sandboxed run of the
whole job, checked in this (trusted) process against the reference. A test's weight within its
phase is `@pytest.mark.points(n)` (default 1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pytest

from .runner import CallResult, JobResult


class Job:
    """The calls of one suite, in the child harness' format (see `child`), and their inputs."""

    def __init__(self, submission=None):
        self.submission = submission  # the folder holding scratchcnn/ (untrusted files)
        self.calls: list[dict] = []
        self.inputs: dict[str, np.ndarray] = {}

    def value(self, v):
        """A JSON-able argument: arrays go to inputs.npz and are passed by reference."""
        if isinstance(v, np.ndarray):
            name = f"a{len(self.inputs)}"
            self.inputs[name] = v
            return {"array": name}
        if isinstance(v, tuple):
            return {"tuple": [self.value(item) for item in v]}
        if isinstance(v, list):
            return [self.value(item) for item in v]
        if isinstance(v, dict):
            return {key: self.value(item) for key, item in v.items()}
        if isinstance(v, np.generic):
            return v.item()
        return v

    def call(self, call_id, target, *args, select=None, after=(), **kwargs):
        """target(*args, **kwargs), e.g. job.call("im2col-1", "conv.im2col", x, 3, 3, stride=2).

        select: keep only these positions of a returned tuple; after: also return these
        arguments as they are after the call (outputs "after.<i>").
        """
        spec = {"id": call_id, "call": target, "args": self.value(list(args)),
                "kwargs": self.value(kwargs), "after": list(after)}
        if select is not None:
            spec["select"] = list(select)
        self.calls.append(spec)

    def fwd_bwd(self, call_id, forward, backward, args, kwargs, dout):
        """out, cache = forward(*args, **kwargs); backward(dout, cache). Outputs out, backward.i."""
        self.calls.append({"id": call_id, "recipe": "fwd_bwd", "forward": forward,
                           "backward": backward, "args": self.value(list(args)),
                           "kwargs": self.value(kwargs), "dout": self.value(dout)})

    def recipe(self, call_id, recipe, **fields):
        """A class-based recipe ("layer", "model", "optimizer"); arrays in fields are passed."""
        self.calls.append({"id": call_id, "recipe": recipe, **self.value(fields)})


WAITING = "these tests need an earlier phase to run first"


class BudgetExhausted(AssertionError):
    """The submission's time budget ran out before this phase's job could run."""


class NotStarted(AssertionError):
    """The student's code raised NotImplementedError: the phase is not started."""


class StudentAnswers:
    """The validated answers of one sandboxed job, by call id, and the suite's cases."""

    def __init__(self, result: JobResult, cases, phase: int):
        self.result = result
        self.cases = cases  # what the suite's build_job returned: its inputs, for the checks
        self.phase = phase

    def __call__(self, call_id: str, output: str = "", blame=None) -> np.ndarray:
        """The array the student's code returned as `output` of `call_id`, or a failure (that
        starts with blame's words, see `also_wrong`, if the code raised)."""
        call = self.result.calls[call_id]
        if call.status != "ok" and output not in call.outputs:
            # An output made before the call failed (forward, when backward raised) is still
            # checked first, so that feedback points at the first step that went wrong.
            error = failure(call, self.phase)
            if blame and call.status == "error":
                raise AssertionError(f"{blame()}{error}")
            raise error
        if output in call.output_errors:
            raise AssertionError(f"{call_id}: {call.output_errors[output]}")
        if output not in call.outputs:
            raise AssertionError(f"{call_id}: returned no {output or 'array'} "
                                 f"(got {sorted(call.outputs) or 'nothing'})")
        return call.outputs[output]


def failure(call: CallResult, phase: int) -> AssertionError:
    """Why a call gave no answer, in the student's terms."""
    if call.status == "not_implemented":
        if call.message.startswith(f"Phase {phase} "):
            return NotStarted(f"not started: {call.message}")
        return AssertionError(f"{WAITING}: {call.message}")
    if call.status == "error":
        return AssertionError(f"raised {call.error_type}: {call.message}{where(call.traceback)}")
    if call.status == "crashed":
        return AssertionError(f"your code was stopped: {call.message}")
    return AssertionError(f"no answer ({call.status}): {call.message}")


def where(student_traceback: str) -> str:
    """" (at pool.py line 40, in max_pool_forward: `code`)" from the child's last student frame."""
    frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)(?:\n {4}(.+))?', student_traceback)
    if not frames:
        return ""
    file, line, function, code = frames[-1]
    return f" (at {file} line {line}, in {function}" + (f": `{code.strip()}`)" if code else ")")


@dataclass(frozen=True)
class Mistake:
    """A known mistake and what it would have produced on the same inputs."""

    description: str
    output: np.ndarray


def float_bound(dtype, terms, magnitude):
    """Tolerance of a float result made of `terms` products summed, each of size <= magnitude.

    Rounding in a sum of n terms is at most about n * eps * sum|terms| (any summation order), so a
    correct float32 implementation is never failed for summing in another order. Elementwise when
    `magnitude` is an array.
    """
    eps = np.finfo(dtype).eps
    return 2 * (terms + 2) * eps * np.asarray(magnitude) + np.finfo(dtype).tiny


def expect_close(got, expected, what, *, atol=1e-9, rtol=1e-7, dtype=None, mistakes=(),
                 blame=None):
    """Check shape, dtype and values of `got`; fail with the first wrong element, and the known
    mistake that explains `got` if one does.

    atol may be an array (elementwise bounds, see `float_bound`). dtype, if given, is the dtype
    `got` must have (the contract keeps the input's floating dtype). blame (see `also_wrong`),
    if given, is called on a failure and its words start the message (cut at the end, if long).
    """
    message = difference(got, np.asarray(expected), what, atol, rtol, dtype, mistakes)
    if message:
        raise AssertionError((blame() if blame else "") + message)


def difference(got, expected, what, atol, rtol, dtype, mistakes) -> str:
    """What is wrong with `got` (see `expect_close`), or "" if nothing is."""
    if got.shape != expected.shape:
        hint = next((m.description for m in mistakes if m.output.shape == got.shape), None)
        return (f"{what}: expected shape {expected.shape}, got shape {got.shape}"
                + (f". This looks like: {hint}" if hint else ""))
    if dtype is not None and got.dtype != dtype:
        return f"{what}: expected dtype {np.dtype(dtype)} (the input's), got {got.dtype}"
    bad = ~(np.abs(got.astype(np.float64) - expected) <= atol + rtol * np.abs(expected))
    if not bad.any():
        return ""
    if not np.all(np.isfinite(got)) and np.all(np.isfinite(expected)):
        return (f"{what}: {int(np.sum(~np.isfinite(got)))} values are nan or inf where all "
                f"expected values are finite (an overflow? for softmax, subtract each row's "
                f"largest logit before np.exp)")
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    message = (f"{what}: first wrong value at index {list(index)}: expected {expected[index]:.6g}, "
               f"got {got[index]:.6g} ({int(bad.sum())} of {bad.size} values wrong)")
    for mistake in mistakes:
        if mistake.output.shape == got.shape and np.allclose(got, mistake.output, rtol=1e-5,
                                                             atol=1e-6):
            return message + f". This looks like: {mistake.description}"
    return message


def also_wrong(check, function, why):
    """A `blame` for expect_close, where the checked result is built from another function of
    the student's (a backward from its forward's cache, conv2d_forward from im2col): names that
    function when `check()`, its own check on the same input, fails too."""
    def words() -> str:
        try:
            check()
        except AssertionError:
            return f"Your {function} is wrong on this input too ({why}): fix it first. "
        return ""
    return words


def expect_unmodified(student, call_id, inputs, what):
    """The arguments of `call_id` (returned with after=...) are as they were passed."""
    for i, original in enumerate(inputs):
        if not np.array_equal(student(call_id, f"after.{i}"), original):
            raise AssertionError(f"{what} modified its argument {i} in place; inputs must be "
                                 f"left as they are")


def points(n):
    """The weight of a test within its phase."""
    return pytest.mark.points(n)
