"""Hidden suite, Phase 13 (bonus): Dropout and ResidualBlock.

ResidualBlock runs on the reference's Conv2D and ReLU functions (PATCHES), so that only this
phase's code counts. Dropout is random: its masks are not compared with fixed values; what is
checked are its properties on large inputs without zeros: the fraction dropped is p within a
binomial tolerance, kept values are x / (1 - p), backward uses forward's mask (recovered from
where forward's output is zero), each call draws a new mask, the layer's seed repeats the masks,
and eval mode and p = 0 are the identity.
"""

import numpy as np

from cnnkit.autograder.suite import Mistake, expect_close, float_bound, points
from cnnkit.autograder.suites.common import ref
from cnnkit.phases import PHASES

PHASE = 13
# The functions of Phases 1-7 and the Conv2D layer of Phase 8: what ResidualBlock builds on.
PATCHES = (*(f"{task.split('::')[0].removesuffix('.py')}.{task.split('::')[1]}"
             for p in PHASES if p.number < 8 for task in p.tasks),
           "layers.Conv2D")
DROP_PS = (0.2, 0.5, 0.75)
BIG = (5, 4, 20, 50)  # 20,000 values: the dropped fraction is within 0.02 of p
SIGMAS = 5  # binomial tolerance: a correct dropout fails about once in 3 million runs
CHANNELS = 3


def nonzero(rng, shape):
    """Values with |v| in [0.5, 1.5): a zero in forward's output marks a dropped value."""
    return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def dropout(job, call_id, x, dout=None, **fields):
    spec = {"class": "blocks.Dropout", "forward": x, **fields}
    if dout is not None:
        spec["backward"] = dout
    job.recipe(call_id, "layer", **spec)


def build_job(job, rng):
    drop = {"x": nonzero(rng, BIG), "dout": rng.standard_normal(BIG)}
    for p in DROP_PS:
        dropout(job, f"drop-{p}", drop["x"], drop["dout"], init={"p": p, "rng": int(rng.integers(
            2**31))})
    small = {"x": nonzero(rng, (4, 6)), "dout": rng.standard_normal((4, 6)),
             "seed": int(rng.integers(2**31))}
    dropout(job, "eval", small["x"], small["dout"], init={"p": 0.5, "rng": small["seed"]},
            training=False)
    dropout(job, "p0", small["x"], small["dout"], init={"p": 0.0, "rng": small["seed"]})
    for twin in ("seed-a", "seed-b"):  # two layers, one seed: the same masks
        dropout(job, twin, [drop["x"], drop["x"]], init={"p": 0.5, "rng": small["seed"]})
    dropout(job, "drop-f32", drop["x"].astype(np.float32), drop["dout"].astype(np.float32),
            init={"p": 0.5, "rng": small["seed"]})
    residual = {"x": rng.standard_normal((2, CHANNELS, 6, 5)),
                "dout": rng.standard_normal((2, CHANNELS, 6, 5)),
                "params": {f"{conv}.{k}": rng.standard_normal(shape) * 0.5 for conv in
                           ("conv1", "conv2") for k, shape in
                           (("w", (CHANNELS, CHANNELS, 3, 3)), ("b", (CHANNELS,)))}}
    # forward twice (an earlier batch, then the checked one) before backward: the block's caches
    # must be the last call's
    job.recipe("residual", "layer", **{"class": "blocks.ResidualBlock",
               "init": {"channels": CHANNELS}, "params": residual["params"],
               "forward": [rng.standard_normal((3, CHANNELS, 4, 7)), residual["x"]],
               "backward": residual["dout"]})
    f32 = {k: v.astype(np.float32) for k, v in residual.items() if k != "params"}
    f32["params"] = {k: v.astype(np.float32) for k, v in residual["params"].items()}
    job.recipe("residual-f32", "layer", **{"class": "blocks.ResidualBlock",
               "init": {"channels": CHANNELS}, "params": f32["params"], "forward": f32["x"],
               "backward": f32["dout"]})
    return {"drop": drop, "small": small, "residual": residual, "residual-f32": f32}


def dropout_answer(student, call_id, output, layer):
    """The student's `output` of a Dropout call on the big input, checked to have its shape."""
    got = student(call_id, output)
    if got.shape != BIG:
        raise AssertionError(f"{layer}: expected shape {BIG}, got shape {got.shape}")
    return got


@points(1)
def test_dropout_fraction(student):
    """Dropout: the fraction of values dropped is p (within a binomial tolerance)"""
    for p in DROP_PS:
        out = dropout_answer(student, f"drop-{p}", "out", f"Dropout(p={p}).forward out")
        dropped = float(np.mean(out == 0))
        tolerance = SIGMAS * np.sqrt(p * (1 - p) / out.size)
        if abs(dropped - p) > tolerance:
            hint = (" (p is used as the keep probability; it is the drop probability)"
                    if abs(dropped - (1 - p)) <= tolerance else "")
            raise AssertionError(f"Dropout(p={p}).forward out: {dropped:.3f} of the values are "
                                 f"dropped (0), expected {p} +- {tolerance:.3f}{hint}")


@points(1)
def test_dropout_kept_values(student):
    """Dropout: kept values are scaled by 1 / (1 - p) (inverted dropout)"""
    x = student.cases["drop"]["x"]
    for p in DROP_PS:
        out = dropout_answer(student, f"drop-{p}", "out", f"Dropout(p={p}).forward out")
        kept = out != 0
        expect_close(out, np.where(kept, x / (1 - p), 0), f"Dropout(p={p}).forward out",
                     mistakes=[Mistake(what, np.where(kept, value, 0)) for what, value in (
                         ("kept values are not rescaled; inverted dropout divides them by "
                          "1 - p, the keep probability", x),
                         ("kept values are divided by p; divide by 1 - p, the keep "
                          "probability", x / p),
                         ("kept values are multiplied by p; divide them by 1 - p, the keep "
                          "probability", x * p))])


@points(1)
def test_dropout_backward_uses_the_forward_mask(student):
    """Dropout backward: dx = dout * mask, with the mask of the forward call"""
    dout = student.cases["drop"]["dout"]
    for p in DROP_PS:
        kept = dropout_answer(student, f"drop-{p}", "out", f"Dropout(p={p}).forward out") != 0
        what = f"Dropout(p={p}).backward dx"
        dx = dropout_answer(student, f"drop-{p}", "dx", what)
        if np.any((dx != 0) & ~kept):
            raise AssertionError(f"{what}: {int(np.sum((dx != 0) & ~kept))} values are nonzero "
                                 f"where forward dropped x; backward must reuse forward's mask "
                                 f"(keep it in self.cache), not draw a new one")
        expect_close(dx, np.where(kept, dout / (1 - p), 0), what)


@points(1)
def test_dropout_identity_in_eval_mode_and_with_p_0(student):
    """Dropout: eval mode and p = 0 pass x and dout through unchanged"""
    small = student.cases["small"]
    for call, layer, mode in (("eval", "Dropout(p=0.5)", " in eval mode"),
                              ("p0", "Dropout(p=0.0)", "")):
        out = student(call, "out")
        if out.shape == small["x"].shape and np.any(out == 0):  # x has no zeros
            raise AssertionError(f"{layer}.forward out{mode}: {int(np.sum(out == 0))} of "
                                 f"{out.size} values are dropped; it must return x unchanged")
        expect_close(out, small["x"], f"{layer}.forward out{mode}")
        expect_close(student(call, "dx"), small["dout"], f"{layer}.backward dx{mode}")


@points(1)
def test_dropout_masks_come_from_its_rng(student):
    """Dropout: a new mask on each call, from the layer's rng (its seed repeats the masks)"""
    first, second = (dropout_answer(student, "seed-a", f"out.{i}", "Dropout(p=0.5).forward out")
                     for i in (0, 1))
    if np.array_equal(first == 0, second == 0):
        raise AssertionError("Dropout(p=0.5).forward: two calls dropped exactly the same values; "
                             "each call must draw a new mask from self.rng")
    for i in (0, 1):
        if not np.array_equal(student("seed-a", f"out.{i}"), student("seed-b", f"out.{i}")):
            raise AssertionError(f"Dropout(p=0.5, rng=seed): two layers made with the same seed "
                                 f"gave different outputs at call {i + 1}; draw the masks from "
                                 f"self.rng (np.random.default_rng(rng), made in __init__)")


@points(1)
def test_dropout_float32(student):
    """Dropout keeps float32: out and dx float32"""
    out = dropout_answer(student, "drop-f32", "out", "Dropout(p=0.5).forward out (float32)")
    x, dout = (student.cases["drop"][k].astype(np.float32) for k in ("x", "dout"))
    kept = out != 0
    expect_close(out, np.where(kept, x.astype(np.float64) / 0.5, 0),
                 "Dropout(p=0.5).forward out (float32)", dtype=np.float32, rtol=2e-7)
    expect_close(student("drop-f32", "dx"), np.where(kept, dout.astype(np.float64) / 0.5, 0),
                 "Dropout(p=0.5).backward dx (float32)", dtype=np.float32, rtol=2e-7)


def reference_block(params):
    block = ref.blocks.ResidualBlock(CHANNELS, dtype=np.float64)
    for key, value in params.items():
        name, k = key.split(".")
        block.layers[name].params[k] = value.astype(np.float64)
    return block


def residual_forward_mistakes(block, x):
    """Known wrong residual forwards, from the reference block's own convolutions."""
    branch = block.conv2.forward(np.maximum(block.conv1.forward(x), 0))
    return [Mistake("ReLU is applied to the branch before the skip is added; the block is "
                    "relu(conv2(relu(conv1(x))) + x)", np.maximum(branch, 0) + x),
            Mistake("the skip connection is missing: x must be added before the last ReLU",
                    np.maximum(branch, 0)),
            Mistake("the last ReLU is missing: out = relu(branch + x)", branch + x)]


@points(2)
def test_residual_block_forward(student):
    """ResidualBlock forward: relu(conv2(relu(conv1(x))) + x)"""
    case = student.cases["residual"]
    block = reference_block(case["params"])
    mistakes = residual_forward_mistakes(block, case["x"])
    expect_close(student("residual", "out.1"), block.forward(case["x"]),
                 f"ResidualBlock({CHANNELS}).forward out", mistakes=mistakes)


@points(2)
def test_residual_block_backward(student):
    """ResidualBlock backward: dx through the branch plus the skip; the convolutions' grads"""
    case = student.cases["residual"]
    block = reference_block(case["params"])
    out = block.forward(case["x"])
    dx = block.backward(case["dout"])
    skip = case["dout"] * (out > 0)  # the gradient that reaches x through the skip
    expect_close(student("residual", "dx"), dx, f"ResidualBlock({CHANNELS}).backward dx",
                 mistakes=[Mistake("dx misses the skip connection's gradient; add the gradient "
                                   "of the sum (before the skip) to the branch's dx", dx - skip),
                           Mistake("dx is only the skip connection's gradient; add the branch's",
                                   skip)])
    for name, grad in block.grads.items():
        expect_close(student("residual", f"grads.{name}"), grad,
                     f"ResidualBlock({CHANNELS}).grads[{name!r}]")


@points(1)
def test_residual_block_float32(student):
    """ResidualBlock keeps float32: out and dx float32, close to the float64 result"""
    case = student.cases["residual-f32"]
    block = reference_block(case["params"])
    x, dout = (case[k].astype(np.float64) for k in ("x", "dout"))
    out, dx = block.forward(x), block.backward(dout)
    terms = 2 * (CHANNELS * 9 + 1) + 1  # two stacked convolutions and the skip
    for output, expected in (("out", out), ("dx", dx)):
        # sums of about `terms` products each, of values no larger than the result's largest
        scale = np.abs(expected).max() + 1
        expect_close(student("residual-f32", output), expected,
                     f"ResidualBlock({CHANNELS}) {output} (float32)", dtype=np.float32, rtol=0,
                     atol=float_bound(np.float32, terms, scale))
