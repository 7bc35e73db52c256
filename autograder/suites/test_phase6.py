"""Hidden suite, Phase 6: flatten_forward and flatten_backward."""

import numpy as np

from cnnkit.autograder.suite import also_wrong, expect_close, expect_unmodified, points

PHASE = 6
PATCHES = ()
SHAPES = [(2, 3, 4, 5), (1, 64, 5, 5), (3, 7), (2, 2, 3)]


def build_job(job, rng):
    cases = [(rng.standard_normal(shape), rng.standard_normal((shape[0], int(np.prod(shape[1:])))))
             for shape in SHAPES]
    for i, (x, dout) in enumerate(cases):
        job.fwd_bwd(f"case-{i}", "layers.flatten_forward", "layers.flatten_backward", [x], {}, dout)
        job.call(f"case-{i}-x", "layers.flatten_forward", x, select=[0], after=(0,))
    job.fwd_bwd("f32", "layers.flatten_forward", "layers.flatten_backward",
                [cases[0][0].astype(np.float32)], {}, cases[0][1].astype(np.float32))
    return cases


@points(2)
def test_forward_row_major(student):
    """flatten_forward: (N, ...) -> (N, D) in row-major (C, H, W) order"""
    for i, (x, _) in enumerate(student.cases):
        check_forward_case(student, i, x)


def check_forward_case(student, i, x):
    expect_close(student(f"case-{i}", "out"), x.reshape(len(x), -1),
                 f"flatten_forward(x {x.shape}) out", atol=0, rtol=0)


@points(2)
def test_backward_restores_shape(student):
    """flatten_backward: (N, D) back to the input's shape"""
    for i, (x, dout) in enumerate(student.cases):
        blame = also_wrong(lambda: check_forward_case(student, i, x), "flatten_forward",
                           "flatten_backward gets its cache from it")
        expect_close(student(f"case-{i}", "backward", blame), dout.reshape(x.shape),
                     f"flatten_backward(dout {dout.shape}) for x {x.shape}", atol=0, rtol=0,
                     blame=blame)


@points(1)
def test_float32(student):
    """float32 in, float32 out"""
    x, dout = student.cases[0]
    expect_close(student("f32", "out"), x.astype(np.float32).reshape(len(x), -1),
                 "flatten_forward(x float32) out", atol=0, rtol=0, dtype=np.float32)
    expect_close(student("f32", "backward"), dout.astype(np.float32).reshape(x.shape),
                 "flatten_backward(dout float32) dx", atol=0, rtol=0, dtype=np.float32)


@points(1)
def test_inputs_not_modified(student):
    """flatten_forward leaves x as it was (its shape too: reshape, don't set x.shape)"""
    test_forward_row_major(student)  # no credit for leaving x alone without working
    for i, (x, _) in enumerate(student.cases):
        expect_unmodified(student, f"case-{i}-x", (x,), f"flatten_forward(x {x.shape})")
