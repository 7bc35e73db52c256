"""Hidden suite, Phase 7: dense, ReLU and softmax cross-entropy."""

import numpy as np

from cnnkit.autograder.suite import (
    Mistake, expect_close, expect_unmodified, float_bound, points,
)
from cnnkit.autograder.suites.common import ref

PHASE = 7
PATCHES = ()


def build_job(job, rng):
    dense = [(rng.standard_normal((n, d)), rng.standard_normal((d, m)), rng.standard_normal(m),
              rng.standard_normal((n, m))) for n, d, m in [(1, 3, 2), (5, 7, 4), (16, 40, 10)]]
    x, w, b, _ = dense[1]  # float32 inputs with float64 parameters: out keeps x's dtype
    job.call("dense-f32", "layers.dense_forward", x.astype(np.float32), w, b, select=[0])
    for i, (x, w, b, dout) in enumerate(dense):
        job.fwd_bwd(f"dense-{i}", "layers.dense_forward", "layers.dense_backward", [x, w, b], {},
                    dout)
        job.call(f"dense-{i}-x", "layers.dense_forward", x, w, b, select=[0], after=(0, 1, 2))
    relu_x = rng.integers(-2, 3, (4, 3, 5)).astype(np.float64)  # exact zeros included
    relu_dout = rng.standard_normal(relu_x.shape)
    job.fwd_bwd("relu", "layers.relu_forward", "layers.relu_backward", [relu_x], {}, relu_dout)
    job.call("relu-x", "layers.relu_forward", relu_x, select=[0], after=(0,))
    job.fwd_bwd("relu-f32", "layers.relu_forward", "layers.relu_backward",
                [relu_x.astype(np.float32)], {}, relu_dout.astype(np.float32))
    losses = [(rng.standard_normal((8, 10)) * 3, rng.integers(0, 10, 8)),
              (np.array([[1000.0, 0.0, -1000.0], [0.0, 800.0, 0.0]]), np.array([1, 0])),
              (rng.standard_normal((1, 4)), np.array([3])),
              # rows far apart: shifting by the batch's largest logit, not each row's own,
              # underflows the low row's exp() to 0
              (rng.standard_normal((3, 5)) + np.array([[1000.0], [-1000.0], [0.0]]),
               rng.integers(0, 5, 3))]
    for i, (logits, y) in enumerate(losses):
        job.call(f"loss-{i}", "layers.softmax_cross_entropy", logits, y, after=(0, 1))
    job.call("loss-f32", "layers.softmax_cross_entropy", losses[0][0].astype(np.float32),
             losses[0][1])
    return {"dense": dense, "relu": (relu_x, relu_dout), "losses": losses}


@points(2)
def test_dense(student):
    """dense_forward and dense_backward: out, dx, dw, db"""
    for i, (x, w, b, dout) in enumerate(student.cases["dense"]):
        out, cache = ref.layers.dense_forward(x, w, b)
        expected = (out, *ref.layers.dense_backward(dout, cache))
        where = f"x {x.shape}, w {w.shape}"
        expect_close(student(f"dense-{i}", "out"), expected[0], f"dense_forward({where}) out")
        for k, name in enumerate(("dx", "dw", "db")):
            expect_close(student(f"dense-{i}", f"backward.{k}"), expected[k + 1],
                         f"dense_backward({where}) {name}")


@points(2)
def test_relu(student):
    """relu_forward and relu_backward, with inputs exactly 0 (gradient 0 there)"""
    x, dout = student.cases["relu"]
    expect_close(student("relu", "out"), np.maximum(x, 0), f"relu_forward(x {x.shape}) out")
    expect_close(student("relu", "backward"), dout * (x > 0), f"relu_backward(x {x.shape}) dx",
                 mistakes=[Mistake("the gradient passes where x == 0; ReLU's gradient there "
                                   "is 0 (x > 0, not x >= 0)", dout * (x >= 0))])
    expect_close(student("relu-f32", "backward"), (dout * (x > 0)).astype(np.float32),
                 "relu_backward(float32) dx", dtype=np.float32)


@points(3)
def test_softmax_cross_entropy(student):
    """softmax_cross_entropy: mean loss and dlogits, including huge logits"""
    for i, (logits, y) in enumerate(student.cases["losses"]):
        loss, dlogits = ref.layers.softmax_cross_entropy(logits, y)
        what = f"softmax_cross_entropy(logits {logits.shape}, max |logit| {np.abs(logits).max():.0f})"
        expect_close(student(f"loss-{i}", "0"), loss, f"{what} loss", rtol=1e-9,
                     mistakes=[Mistake("the loss is summed over the batch; it must be the mean",
                                       np.asarray(loss * len(y)))])
        expect_close(student(f"loss-{i}", "1"), dlogits, f"{what} dlogits",
                     mistakes=[Mistake("dlogits is not divided by N (the loss is a mean)",
                                       dlogits * len(y))])


@points(1)
def test_dense_float32(student):
    """dense_forward: float32 x with float64 w and b gives float32 out"""
    x, w, b, _ = student.cases["dense"][1]
    x = x.astype(np.float32)
    expected = x.astype(np.float64) @ w + b
    expect_close(student("dense-f32", "0"), expected,
                 "dense_forward(x float32, w and b float64) out", dtype=np.float32, rtol=0,
                 atol=float_bound(np.float32, x.shape[1] + 1, np.abs(x) @ np.abs(w) + np.abs(b)))


@points(1)
def test_softmax_cross_entropy_float32(student):
    """softmax_cross_entropy: float32 logits give float32 dlogits"""
    logits, y = student.cases["losses"][0]
    _, dlogits = ref.layers.softmax_cross_entropy(logits.astype(np.float32).astype(np.float64), y)
    expect_close(student("loss-f32", "1"), dlogits, "softmax_cross_entropy(float32) dlogits",
                 dtype=np.float32, rtol=0, atol=float_bound(np.float32, logits.shape[1], 1.0))


@points(1)
def test_inputs_not_modified(student):
    """dense_forward, relu_forward and softmax_cross_entropy leave their inputs as they were"""
    test_dense(student)  # no credit for leaving inputs alone without working
    test_relu(student)
    test_softmax_cross_entropy(student)
    for i, (x, w, b, _) in enumerate(student.cases["dense"]):
        expect_unmodified(student, f"dense-{i}-x", (x, w, b), f"dense_forward(x {x.shape})")
    x, _ = student.cases["relu"]
    expect_unmodified(student, "relu-x", (x,), f"relu_forward(x {x.shape})")
    for i, (logits, y) in enumerate(student.cases["losses"]):
        expect_unmodified(student, f"loss-{i}", (logits, y),
                          f"softmax_cross_entropy(logits {logits.shape})")
