"""Hidden suite, Phase 3: col2im and conv2d_backward.

The reference's im2col stands in for the student's (PATCHES), so that a Phase 2 bug doesn't cost
Phase 3 points. conv2d_backward gets its cache from the student's own conv2d_forward (the cache is
opaque): that forward has to run, not to be right.
"""

import numpy as np

from cnnkit.autograder.suite import (
    also_wrong, expect_close, expect_unmodified, float_bound, points,
)
from cnnkit.autograder.suites.common import (
    TRACE_B, TRACE_W, TRACE_X, UNIT_SCALE, abs_conv, col2im_mistakes, conv_bound, conv_cases,
    expect_gradient, numerical_gradient, ref,
)

PHASE = 3
PATCHES = ("conv.im2col",)


def build_job(job, rng):
    cases = {"f64": conv_cases(rng), "f32": conv_cases(rng, np.float32)[::4]}
    douts = {}
    job.fwd_bwd("trace", "conv.conv2d_forward", "conv.conv2d_backward",
                [TRACE_X, TRACE_W, TRACE_B], {}, np.ones((1, 1, 3, 3)))
    for kind, group in cases.items():
        for i, case in enumerate(group):
            cols = ref.conv.im2col(case.x, case.kh, case.kw, **case.kwargs)
            douts[kind, i] = (rng.standard_normal(cols.shape).astype(case.x.dtype),
                              rng.standard_normal(case.out_shape()).astype(case.x.dtype))
            job.call(f"col2im-{kind}-{i}", "conv.col2im", douts[kind, i][0], case.x.shape,
                     case.kh, case.kw, **case.kwargs, after=(0,))
            job.fwd_bwd(f"bwd-{kind}-{i}", "conv.conv2d_forward", "conv.conv2d_backward",
                        [case.x, case.w, case.b], case.kwargs, douts[kind, i][1])
    return {"cases": cases, "douts": douts}


def check_col2im(student, kind, select):
    for i, case in enumerate(student.cases["cases"][kind]):
        if select(case):
            check_col2im_case(student, kind, i, case)


def check_col2im_case(student, kind, i, case):
    cols = student.cases["douts"][kind, i][0]
    expected = ref.conv.col2im(cols.astype(np.float64), case.x.shape, case.kh, case.kw,
                               **case.kwargs)
    bound = float_bound(cols.dtype, case.kh * case.kw, ref.conv.col2im(
        np.abs(cols).astype(np.float64), case.x.shape, case.kh, case.kw, **case.kwargs))
    expect_close(student(f"col2im-{kind}-{i}"), expected,
                 f"col2im(cols {cols.shape} {cols.dtype}, x_shape {case.x.shape}, kh={case.kh}, "
                 f"kw={case.kw}, stride={case.stride}, padding={case.padding})",
                 atol=bound, rtol=0, dtype=cols.dtype, mistakes=col2im_mistakes(case, cols))


def check_forward_case(student, kind, i, case):
    """The student's conv2d_forward on a backward case: its cache is what backward gets."""
    expected = ref.conv.conv2d_forward_naive(*(a.astype(np.float64) for a in
                                               (case.x, case.w, case.b)), **case.kwargs)
    expect_close(student(f"bwd-{kind}-{i}", "out"), expected, "conv2d_forward",
                 atol=conv_bound(case, abs_conv(case)), rtol=0, dtype=case.x.dtype)


def blame_for(student, kind, i, case, name):
    """conv2d_backward is built from the student's conv2d_forward (its cache), and dx from
    their col2im."""
    forward = also_wrong(lambda: check_forward_case(student, kind, i, case),
                         "conv2d_forward (Phase 2)", "conv2d_backward gets its cache from it")
    col2im = also_wrong(lambda: check_col2im_case(student, kind, i, case), "col2im",
                        "conv2d_backward's dx is col2im of dcols")
    return lambda: forward() or (col2im() if name == "dx" else "")


def check_backward(student, kind, select):
    for i, case in enumerate(student.cases["cases"][kind]):
        if not select(case):
            continue
        dout = student.cases["douts"][kind, i][1]
        x, w, b, d = (a.astype(np.float64) for a in (case.x, case.w, case.b, dout))
        _, cache = ref.conv.conv2d_forward(x, w, b, **case.kwargs)
        _, abs_cache = ref.conv.conv2d_forward(np.abs(x), np.abs(w), b, **case.kwargs)
        expected = ref.conv.conv2d_backward(d, cache)
        magnitudes = ref.conv.conv2d_backward(np.abs(d), abs_cache)
        N, F, Ho, Wo = d.shape
        terms = (F * case.kh * case.kw, N * Ho * Wo, N * Ho * Wo)  # sums behind dx, dw, db
        for k, name in enumerate(("dx", "dw", "db")):
            blame = blame_for(student, kind, i, case, name)
            expect_close(student(f"bwd-{kind}-{i}", f"backward.{k}", blame), expected[k],
                         f"conv2d_backward({case}) {name}", rtol=0, dtype=case.x.dtype,
                         atol=float_bound(case.x.dtype, terms[k], magnitudes[k]), blame=blame)


@points(1)
def test_col2im_stride_one(student):
    """col2im: overlapping windows (stride 1) add up, padding 0-2 cropped"""
    check_col2im(student, "f64", lambda c: c.stride == 1)


@points(2)
def test_col2im_strides(student):
    """col2im: strides 2 and 3, padding 0-2, rectangular kernels"""
    check_col2im(student, "f64", lambda c: c.stride > 1)


@points(1)
def test_col2im_float32(student):
    """col2im: float32 in, float32 out"""
    check_col2im(student, "f32", lambda c: True)


@points(1)
def test_backward_guide_trace(student):
    """conv2d_backward: the guide's trace, dL/dY = ones, and random inputs at stride 1"""
    _, cache = ref.conv.conv2d_forward(TRACE_X, TRACE_W, TRACE_B)
    dx, dw, db = ref.conv.conv2d_backward(np.ones((1, 1, 3, 3)), cache)
    expect_close(student("trace", "backward.1"), dw, "conv2d_backward (guide's trace) dL/dW")
    expect_close(student("trace", "backward.0"), dx, "conv2d_backward (guide's trace) dL/dX")
    expect_close(student("trace", "backward.2"), db, "conv2d_backward (guide's trace) dL/db")
    test_backward_stride_one(student)  # no points for a fixed answer to the guide's input


@points(2)
def test_backward_stride_one(student):
    """conv2d_backward: dx, dw, db with stride 1, padding 0-2"""
    check_backward(student, "f64", lambda c: c.stride == 1)


@points(2)
def test_backward_strides(student):
    """conv2d_backward: dx, dw, db with strides 2 and 3, padding 0-2"""
    check_backward(student, "f64", lambda c: c.stride > 1)


@points(1)
def test_backward_float32(student):
    """conv2d_backward: float32 in, float32 out, within float32 rounding"""
    check_backward(student, "f32", lambda c: True)


@points(1)
def test_backward_numerical_gradient(student):
    """conv2d_backward: agrees with numerical gradients (stride 2, padding 1)"""
    i, case = next((i, c) for i, c in enumerate(student.cases["cases"]["f64"])
                   if c.stride == 2 and c.padding == 1 and c.regime in UNIT_SCALE)
    dout = student.cases["douts"]["f64", i][1]
    forward = {
        "dx": lambda v: ref.conv.conv2d_forward(v, case.w, case.b, **case.kwargs)[0],
        "dw": lambda v: ref.conv.conv2d_forward(case.x, v, case.b, **case.kwargs)[0],
        "db": lambda v: ref.conv.conv2d_forward(case.x, case.w, v, **case.kwargs)[0],
    }
    for k, (name, at) in enumerate(zip(forward, (case.x, case.w, case.b))):
        expect_gradient(student(f"bwd-f64-{i}", f"backward.{k}"),
                        numerical_gradient(forward[name], at, dout), f"conv2d_backward({case}) {name}")


@points(1)
def test_col2im_input_not_modified(student):
    """col2im leaves cols as it was"""
    test_col2im_stride_one(student)  # no credit for leaving cols alone without working
    for (kind, i), (cols, _) in student.cases["douts"].items():
        expect_unmodified(student, f"col2im-{kind}-{i}", (cols,), f"col2im(cols {cols.shape})")
