"""Hidden suite, Phase 2: im2col and conv2d_forward."""

import numpy as np

from cnnkit.autograder.suite import also_wrong, expect_close, expect_unmodified, points
from cnnkit.autograder.suites.common import (
    TRACE_B, TRACE_W, TRACE_X, abs_conv, conv_bound, conv_cases, conv_forward_mistakes,
    im2col_mistakes, ref,
)

PHASE = 2
PATCHES = ()


def build_job(job, rng):
    cases = {"f64": conv_cases(rng), "f32": conv_cases(rng, np.float32)[::4]}
    job.call("trace", "conv.conv2d_forward", TRACE_X, TRACE_W, TRACE_B, select=[0],
             after=(0, 1, 2))
    job.call("im2col-trace", "conv.im2col", TRACE_X, 2, 2, stride=2, after=(0,))
    for kind, group in cases.items():
        for i, case in enumerate(group):
            job.call(f"im2col-{kind}-{i}", "conv.im2col", case.x, case.kh, case.kw, **case.kwargs)
            job.call(f"conv-{kind}-{i}", "conv.conv2d_forward", case.x, case.w, case.b,
                     **case.kwargs, select=[0])
    return cases


def check_im2col(student, kind, select):
    for i, case in enumerate(student.cases[kind]):
        if select(case):
            check_im2col_case(student, kind, i, case)


def check_im2col_case(student, kind, i, case):
    expect_close(student(f"im2col-{kind}-{i}"),
                 ref.conv.im2col(case.x, case.kh, case.kw, **case.kwargs),
                 f"im2col({case}, kh={case.kh}, kw={case.kw})", atol=0, rtol=0,
                 dtype=case.x.dtype, mistakes=im2col_mistakes(case))


def check_forward(student, kind, select):
    for i, case in enumerate(student.cases[kind]):
        if select(case):
            expected = ref.conv.conv2d_forward_naive(*(a.astype(np.float64) for a in
                                                       (case.x, case.w, case.b)), **case.kwargs)
            blame = also_wrong(lambda: check_im2col_case(student, kind, i, case), "im2col",
                               "conv2d_forward is im2col and one matmul")
            expect_close(student(f"conv-{kind}-{i}", "0", blame), expected,
                         f"conv2d_forward({case}) out", atol=conv_bound(case, abs_conv(case)),
                         rtol=0, dtype=case.x.dtype, mistakes=conv_forward_mistakes(case),
                         blame=blame)


@points(2)
def test_im2col_stride_one(student):
    """im2col: layout of rows and columns, stride 1, with and without padding"""
    check_im2col(student, "f64", lambda c: c.stride == 1)


@points(2)
def test_im2col_strides(student):
    """im2col: strides 2 and 3, padding 0-2, rectangular kernels"""
    check_im2col(student, "f64", lambda c: c.stride > 1)


@points(1)
def test_im2col_float32(student):
    """im2col: float32 in, float32 out"""
    check_im2col(student, "f32", lambda c: True)


@points(1)
def test_forward_guide_trace(student):
    """conv2d_forward: the guide's 2x2-filter trace, and random inputs at stride 1"""
    expect_close(student("trace", "0"), ref.conv.conv2d_forward_naive(TRACE_X, TRACE_W, TRACE_B),
                 "conv2d_forward(1..16, [[1, 2], [3, 4]]) out")
    test_forward_stride_one(student)  # no points for a fixed answer to the guide's input


@points(1)
def test_inputs_not_modified(student):
    """im2col and conv2d_forward leave their inputs as they were"""
    test_im2col_stride_one(student)  # no credit for leaving inputs alone without working
    test_forward_stride_one(student)
    expect_unmodified(student, "im2col-trace", (TRACE_X,), "im2col")
    expect_unmodified(student, "trace", (TRACE_X, TRACE_W, TRACE_B), "conv2d_forward")


@points(2)
def test_forward_stride_one(student):
    """conv2d_forward: stride 1, padding 0-2"""
    check_forward(student, "f64", lambda c: c.stride == 1)


@points(2)
def test_forward_strides(student):
    """conv2d_forward: strides 2 and 3, padding 0-2"""
    check_forward(student, "f64", lambda c: c.stride > 1)


@points(1)
def test_forward_float32(student):
    """conv2d_forward: float32 in, float32 out, within float32 rounding"""
    check_forward(student, "f32", lambda c: True)
