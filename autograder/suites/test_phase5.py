"""Hidden suite, Phase 5: max_pool_backward.

The cache is opaque, so the student's own max_pool_forward makes it: that forward has to run,
not to be right.
"""

import math

import numpy as np

from cnnkit.autograder.suite import also_wrong, expect_close, points
from cnnkit.autograder.suites.common import (
    expect_gradient, numerical_gradient, pool_backward_mistakes, pool_cases, ref,
)

PHASE = 5
PATCHES = ()
ROUTING = np.array([[[[1.0, 4.0], [2.0, 3.0]]]])  # the guide's routing example, dL/dout = 0.5


def build_job(job, rng):
    cases = {"f64": pool_cases(rng), "f32": pool_cases(rng, np.float32)}
    douts = {(kind, i): rng.standard_normal(case.out_shape()).astype(case.x.dtype)
             for kind, group in cases.items() for i, case in enumerate(group)}
    job.fwd_bwd("routing", "pool.max_pool_forward", "pool.max_pool_backward", [ROUTING], {},
                np.full((1, 1, 1, 1), 0.5))
    smooth = rng.permutation(2 * 2 * 7 * 6).reshape(2, 2, 7, 6) * 0.01  # distinct values
    job.fwd_bwd("smooth", "pool.max_pool_forward", "pool.max_pool_backward", [smooth],
                {"size": 3, "stride": 2}, np.ones((2, 2, 3, 2)))
    for (kind, i), dout in douts.items():
        case = cases[kind][i]
        job.fwd_bwd(f"{kind}-{i}", "pool.max_pool_forward", "pool.max_pool_backward", [case.x],
                    case.kwargs, dout)
    return {"cases": cases, "douts": douts, "smooth": smooth}


def check(student, kind, select):
    for i, case in enumerate(student.cases["cases"][kind]):
        if not select(case):
            continue
        dout = student.cases["douts"][kind, i]
        _, cache = ref.pool.max_pool_forward(case.x.astype(np.float64), **case.kwargs)
        expected = ref.pool.max_pool_backward(dout.astype(np.float64), cache)
        windows_per_pixel = math.ceil(case.size / case.stride) ** 2  # sums behind each dx value
        blame = also_wrong(lambda: check_forward_case(student, f"{kind}-{i}", case),
                           "max_pool_forward (Phase 4)", "max_pool_backward gets its cache from it")
        expect_close(student(f"{kind}-{i}", "backward", blame), expected,
                     f"max_pool_backward({case}) dx", rtol=0, dtype=case.x.dtype,
                     atol=4 * windows_per_pixel * np.finfo(case.x.dtype).eps * np.abs(dout).max(),
                     mistakes=pool_backward_mistakes(case, dout.astype(np.float64)), blame=blame)


def check_forward_case(student, call_id, case):
    """The student's max_pool_forward on a backward case: its cache is what backward gets."""
    expect_close(student(call_id, "out"), ref.pool.max_pool_forward(case.x, **case.kwargs)[0],
                 "max_pool_forward", atol=0, rtol=0, dtype=case.x.dtype)


@points(2)
def test_guide_routing(student):
    """the guide's routing example: [[1, 4], [2, 3]], dL/dout = 0.5, and random windows"""
    expect_close(student("routing", "backward"), [[[[0, 0.5], [0, 0]]]],
                 "max_pool_backward([[1, 4], [2, 3]], dL/dout = 0.5) dx")
    test_ties_and_plateaus(student)  # no points for a fixed answer to the guide's input


@points(2)
def test_ties_and_plateaus(student):
    """ties and plateaus: only the first maximum of each window gets the gradient"""
    check(student, "f64", lambda c: c.stride == c.size)


@points(2)
def test_overlapping_windows(student):
    """overlapping windows (stride < size) add their gradients"""
    check(student, "f64", lambda c: c.stride < c.size)


@points(1)
def test_gapped_windows(student):
    """windows with gaps (stride > size): the pixels between get no gradient"""
    check(student, "f64", lambda c: c.stride > c.size)


@points(1)
def test_float32(student):
    """float32 in, float32 out"""
    check(student, "f32", lambda c: True)


@points(1)
def test_numerical_gradient(student):
    """agrees with the numerical gradient where the max is unique"""
    smooth = student.cases["smooth"]
    numeric = numerical_gradient(lambda v: ref.pool.max_pool_forward(v, 3, 2)[0], smooth,
                                 np.ones((2, 2, 3, 2)))
    expect_gradient(student("smooth", "backward"), numeric, "max_pool_backward(size=3, stride=2) dx")
