"""Hidden suite, Phase 1: conv2d_forward_naive."""

import numpy as np

from cnnkit.autograder.suite import expect_close, expect_unmodified, points
from cnnkit.autograder.suites.common import (
    TRACE_B, TRACE_W, TRACE_X, ConvCase, abs_conv, conv_bound, conv_cases, conv_forward_mistakes,
    ref,
)

PHASE = 1
PATCHES = ()


def build_job(job, rng):
    cases = {"f64": conv_cases(rng), "f32": conv_cases(rng, np.float32)[::4]}
    job.call("trace", "conv.conv2d_forward_naive", TRACE_X, TRACE_W, TRACE_B, after=(0, 1, 2))
    for kind, group in cases.items():
        for i, case in enumerate(group):
            job.call(f"{kind}-{i}", "conv.conv2d_forward_naive", case.x, case.w, case.b,
                     **case.kwargs)
    return cases


def check(student, kind, select):
    for i, case in enumerate(student.cases[kind]):
        if select(case):
            expected = ref.conv.conv2d_forward_naive(*(a.astype(np.float64) for a in
                                                       (case.x, case.w, case.b)), **case.kwargs)
            expect_close(student(f"{kind}-{i}"), expected, f"conv2d_forward_naive({case})",
                         atol=conv_bound(case, abs_conv(case)), rtol=0, dtype=case.x.dtype,
                         mistakes=conv_forward_mistakes(case))


@points(2)
def test_guide_trace(student):
    """the guide's 2x2-filter trace on the 4x4 input 1..16, and random inputs at stride 1"""
    expect_close(student("trace"), ref.conv.conv2d_forward_naive(TRACE_X, TRACE_W, TRACE_B),
                 "conv2d_forward_naive(1..16, [[1, 2], [3, 4]])",
                 mistakes=conv_forward_mistakes(ConvCase(TRACE_X, TRACE_W, TRACE_B, 1, 0)))
    test_stride_one_no_padding(student)  # no points for a fixed answer to the guide's input


@points(1)
def test_inputs_not_modified(student):
    """x, w and b are left as they were"""
    test_stride_one_no_padding(student)  # no credit for leaving inputs alone without working
    expect_unmodified(student, "trace", (TRACE_X, TRACE_W, TRACE_B), "conv2d_forward_naive")


@points(2)
def test_stride_one_no_padding(student):
    """stride 1, no padding, N > 1 and C > 1"""
    check(student, "f64", lambda c: c.stride == 1 and c.padding == 0)


@points(2)
def test_strides(student):
    """strides 2 and 3"""
    check(student, "f64", lambda c: c.stride > 1 and c.padding == 0)


@points(2)
def test_padding(student):
    """padding 1 and 2, with every stride"""
    check(student, "f64", lambda c: c.padding > 0)


@points(2)
def test_float32(student):
    """float32 in, float32 out, within float32 rounding"""
    check(student, "f32", lambda c: True)
