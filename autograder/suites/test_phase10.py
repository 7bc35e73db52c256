"""Hidden suite, Phase 10 (bonus): avg_pool_forward/backward, global_avg_pool_forward/backward.

The caches are opaque, so each backward runs on the student's own forward's cache: that forward
has to run, not to be right.
"""

import numpy as np

from cnnkit.autograder.suite import (
    Mistake, also_wrong, expect_close, expect_unmodified, float_bound, points,
)
from cnnkit.autograder.suites.common import (
    TRACE_X, PoolCase, expect_gradient, numerical_gradient, ref, spread,
)

PHASE = 10
PATCHES = ()
# sizes 1-3, strides 1-3: windows that tile (stride = size), overlap (<) and leave gaps (>)
SETTINGS = [((2, 3, 8, 8), 2, 2), ((2, 3, 7, 9), 3, 2), ((2, 2, 6, 7), 2, 1),
            ((3, 2, 9, 8), 2, 3), ((2, 2, 7, 7), 3, 1), ((1, 3, 5, 6), 3, 3), ((2, 2, 4, 5), 1, 1)]
GLOBAL_SHAPES = [(2, 3, 5, 4), (1, 64, 5, 5), (3, 2, 1, 1), (2, 4, 1, 7)]
# 1..16 worked by hand in the public tests: (stride, dout)
HAND = {"hand-stride2": (2, np.array([[[[1.0, 2.0], [3.0, 4.0]]]])),
        "hand-stride1": (1, np.ones((1, 1, 3, 3)))}


def build_job(job, rng):
    cases = {kind: [PoolCase(rng.standard_normal(shape).astype(dtype), size, stride)
                    for shape, size, stride in SETTINGS]
             for kind, dtype in (("f64", np.float64), ("f32", np.float32))}
    douts = {(kind, i): rng.standard_normal(case.out_shape()).astype(case.x.dtype)
             for kind, group in cases.items() for i, case in enumerate(group)}
    glob = {kind: [(rng.standard_normal(shape).astype(dtype),
                    rng.standard_normal(shape[:2]).astype(dtype)) for shape in GLOBAL_SHAPES]
            for kind, dtype in (("f64", np.float64), ("f32", np.float32))}
    for name, (stride, dout) in HAND.items():
        job.fwd_bwd(name, "pool.avg_pool_forward", "pool.avg_pool_backward", [TRACE_X],
                    {"size": 2, "stride": stride}, dout)
    for (kind, i), dout in douts.items():
        case = cases[kind][i]
        job.fwd_bwd(f"{kind}-{i}", "pool.avg_pool_forward", "pool.avg_pool_backward", [case.x],
                    case.kwargs, dout)
        job.call(f"{kind}-{i}-x", "pool.avg_pool_forward", case.x, **case.kwargs, select=[0],
                 after=(0,))
    for kind, group in glob.items():
        for i, (x, dout) in enumerate(group):
            job.fwd_bwd(f"global-{kind}-{i}", "pool.global_avg_pool_forward",
                        "pool.global_avg_pool_backward", [x], {}, dout)
            job.call(f"global-{kind}-{i}-x", "pool.global_avg_pool_forward", x, select=[0],
                     after=(0,))
    smooth = rng.standard_normal((2, 2, 6, 7))
    job.fwd_bwd("smooth", "pool.avg_pool_forward", "pool.avg_pool_backward", [smooth],
                {"size": 3, "stride": 1}, np.ones((2, 2, 4, 5)))
    return {"cases": cases, "douts": douts, "global": glob, "smooth": smooth}


def plane_bound(dtype, shape, magnitude):
    """Tolerance of a value summed from one H x W plane of numbers of size <= magnitude, in any
    order: running sums and their differences too (an integral image), at most H*W terms."""
    area = shape[2] * shape[3]
    return float_bound(dtype, area, area * magnitude)


def window_sums(case, step):
    """The sums of x's size x size windows (float64), stepped by `step`: (N, C, Ho, Wo) for
    step = stride."""
    windows = np.lib.stride_tricks.sliding_window_view(case.x.astype(np.float64),
                                                       (case.size, case.size), axis=(2, 3))
    return windows[:, :, ::step, ::step].sum(axis=(4, 5))


def forward_mistakes(case):
    """Known wrong average-pool forwards on this case."""
    sums = window_sums(case, case.stride)
    mistakes = [Mistake("each window's sum, not its mean: divide by size*size", sums),
                Mistake("the window sum is divided by size, not by size*size", sums / case.size)]
    if case.stride != case.size:
        mistakes.append(Mistake("windows step by the window size, not by the stride (stride is "
                                "ignored)", window_sums(case, case.size) / case.size**2))
    return mistakes


def backward_mistakes(case, dout):
    """Known wrong spreads of the average-pool gradient on this case (dout float64)."""
    k = case.size
    shares = np.broadcast_to(dout[..., None, None], (*dout.shape, k, k))
    return [
        Mistake("overlapping windows overwrite each other's gradient; they must add up",
                spread(case, shares / (k * k), add=False)),
        Mistake("the gradient is not divided by the window's size*size positions (each gets "
                "dout / size**2)", spread(case, shares)),
        Mistake("the gradient is divided by size, not by size*size", spread(case, shares / k)),
    ]


def check_forward(student, call_id, case, output="out"):
    expected, _ = ref.pool.avg_pool_forward(case.x.astype(np.float64), **case.kwargs)
    expect_close(student(call_id, output), expected, f"avg_pool_forward({case}) out", rtol=0,
                 atol=plane_bound(case.x.dtype, case.x.shape, np.abs(case.x).max()),
                 dtype=case.x.dtype, mistakes=forward_mistakes(case))


def check_backward(student, call_id, case, dout):
    dout = dout.astype(np.float64)
    _, cache = ref.pool.avg_pool_forward(case.x.astype(np.float64), **case.kwargs)
    blame = also_wrong(lambda: check_forward(student, call_id, case), "avg_pool_forward",
                       "avg_pool_backward gets its cache from it")
    expect_close(student(call_id, "backward", blame), ref.pool.avg_pool_backward(dout, cache),
                 f"avg_pool_backward({case}) dx", rtol=0,
                 atol=plane_bound(case.x.dtype, case.x.shape, np.abs(dout).max()),
                 dtype=case.x.dtype, mistakes=backward_mistakes(case, dout), blame=blame)


def check(student, kind, select, forward=True, backward=True):
    """Forward and/or backward of the `kind` cases that `select` picks."""
    for i, case in enumerate(student.cases["cases"][kind]):
        if not select(case):
            continue
        if forward:
            check_forward(student, f"{kind}-{i}", case)
        if backward:
            check_backward(student, f"{kind}-{i}", case, student.cases["douts"][kind, i])


def check_global(student, kind):
    for i, (x, dout) in enumerate(student.cases["global"][kind]):
        what = f"(x {x.shape} {x.dtype})"
        expected = x.astype(np.float64).mean(axis=(2, 3))
        sums = x.astype(np.float64).sum(axis=(2, 3))
        expect_close(student(f"global-{kind}-{i}", "out"), expected,
                     f"global_avg_pool_forward{what} out", rtol=0, dtype=x.dtype,
                     atol=plane_bound(x.dtype, x.shape, np.abs(x).max()), mistakes=[
                         Mistake("out keeps the H, W axes; it must be (N, C)",
                                 expected[..., None, None]),
                         Mistake("each channel's sum, not its mean: divide by H*W", sums)])
        share = np.broadcast_to(dout.astype(np.float64)[..., None, None], x.shape)
        expect_close(student(f"global-{kind}-{i}", "backward"), share / (x.shape[2] * x.shape[3]),
                     f"global_avg_pool_backward{what} dx", rtol=0, dtype=x.dtype,
                     atol=float_bound(x.dtype, 1, np.abs(dout).max()), mistakes=[
                         Mistake("the gradient is not divided by H*W: each of the H*W positions "
                                 "gets dout / (H*W)", share)])


@points(1)
def test_hand_examples(student):
    """1..16 with 2x2 windows at stride 2 and stride 1 (overlapping), worked by hand, and the
    random cases of those window settings"""
    for name, (stride, dout) in HAND.items():
        case = PoolCase(TRACE_X, 2, stride)
        check_forward(student, name, case)
        check_backward(student, name, case, dout)
    # no points for fixed answers to the inputs worked by hand
    check(student, "f64", lambda c: c.size == 2 and c.stride in (1, 2))


@points(2)
def test_forward(student):
    """avg_pool_forward: every window's mean, strides 1-3 and sizes 1-3, N > 1 and C > 1"""
    check(student, "f64", lambda c: True, backward=False)


@points(1)
def test_backward_spreads_evenly(student):
    """avg_pool_backward: dout / size**2 to every position of its window"""
    check(student, "f64", lambda c: c.stride >= c.size, forward=False)


@points(1)
def test_overlapping_windows_add_up(student):
    """avg_pool_backward: overlapping windows (stride < size) add their gradients"""
    check(student, "f64", lambda c: c.stride < c.size, forward=False)


@points(2)
def test_global_average_pooling(student):
    """global_avg_pool_forward and global_avg_pool_backward"""
    check_global(student, "f64")


@points(1)
def test_float32(student):
    """float32 in, float32 out"""
    check(student, "f32", lambda c: True)
    check_global(student, "f32")


@points(1)
def test_inputs_not_modified(student):
    """x is left as it was"""
    test_forward(student)  # no credit for leaving x alone without working
    for i, case in enumerate(student.cases["cases"]["f64"]):
        expect_unmodified(student, f"f64-{i}-x", (case.x,), f"avg_pool_forward({case})")
    for i, (x, _) in enumerate(student.cases["global"]["f64"]):
        expect_unmodified(student, f"global-f64-{i}-x", (x,),
                          f"global_avg_pool_forward(x {x.shape})")


@points(1)
def test_numerical_gradient(student):
    """avg_pool_backward agrees with the numerical gradient"""
    smooth = student.cases["smooth"]
    numeric = numerical_gradient(lambda v: ref.pool.avg_pool_forward(v, 3, 1)[0], smooth,
                                 np.ones((2, 2, 4, 5)))
    expect_gradient(student("smooth", "backward"), numeric,
                    "avg_pool_backward(size=3, stride=1) dx")
