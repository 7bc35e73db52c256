"""Hidden suite, Phase 12 (bonus): BatchNorm2D in training and eval mode.

BatchNorm2D uses no earlier phase (no PATCHES). The layers get random gamma, beta and running
statistics, and momentum 0.2 and eps 1e-3 rather than the defaults, so that hard-coded values
and running statistics assumed to start at 0 and 1 are caught.
"""

import numpy as np

from cnnkit.autograder.suite import Mistake, expect_close, float_bound, points
from cnnkit.autograder.suites.common import ref

PHASE = 12
PATCHES = ()
MOMENTUM, EPS = 0.2, 1e-3
INIT = {"num_channels": 3, "momentum": MOMENTUM, "eps": EPS}
LAYER = f"BatchNorm2D(3, momentum={MOMENTUM}, eps={EPS})"
AXES = (0, 2, 3)


def random_layer_state(rng):
    """gamma, beta, running_mean, running_var: (3,) each, float64."""
    return {"params": {"gamma": rng.uniform(0.5, 2.0, 3) * rng.choice([-1, 1], 3),
                       "beta": rng.standard_normal(3)},
            "buffers": {"running_mean": rng.standard_normal(3),
                        "running_var": rng.uniform(0.5, 2.0, 3)}}


def build_job(job, rng):
    shape = (4, 3, 5, 6)
    # an offset and a scale per channel: normalising must remove them
    offset = rng.standard_normal((1, 3, 1, 1)) * 3
    train = {"xs": [rng.standard_normal(shape) * 2 + offset for _ in range(2)],
             "dout": rng.standard_normal(shape), **random_layer_state(rng)}
    job.recipe("train", "layer", **{"class": "blocks.BatchNorm2D", "init": INIT,
               "params": train["params"], "buffers": train["buffers"], "forward": train["xs"],
               "backward": train["dout"]})
    evaluation = {"x": rng.standard_normal(shape) + offset, "dout": rng.standard_normal(shape),
                  **random_layer_state(rng)}
    job.recipe("eval", "layer", **{"class": "blocks.BatchNorm2D", "init": INIT,
               "params": evaluation["params"], "buffers": evaluation["buffers"],
               "training": False, "forward": evaluation["x"], "backward": evaluation["dout"]})
    f32 = {"x": (rng.standard_normal(shape) + offset).astype(np.float32),
           "dout": rng.standard_normal(shape).astype(np.float32)}
    job.recipe("f32", "layer", **{"class": "blocks.BatchNorm2D", "init": INIT,
               "forward": f32["x"], "backward": f32["dout"]})
    return {"train": train, "eval": evaluation, "f32": f32}


def reference_layer(case, training=True):
    layer = ref.blocks.BatchNorm2D(**INIT, dtype=np.float64)
    for group in ("params", "buffers"):
        for key, value in case.get(group, {}).items():
            getattr(layer, group)[key][...] = value
    layer.training = training
    return layer


def channels(v):
    """(C,) -> (1, C, 1, 1), to broadcast over (N, C, H, W)."""
    return np.asarray(v).reshape(1, -1, 1, 1)


def normalised(x, mean, var, case):
    """gamma * (x - mean) / sqrt(var + eps) + beta with these statistics (shaped to broadcast
    over x: (1, C, 1, 1) per channel)."""
    return (channels(case["params"]["gamma"]) * (x - mean) / np.sqrt(var + EPS)
            + channels(case["params"]["beta"]))


def forward_mistakes(x, case):
    """Known wrong training-mode forwards on this batch."""
    M = x.size // x.shape[1]
    mean, var = x.mean(axis=AXES, keepdims=True), x.var(axis=AXES, keepdims=True)
    return [
        Mistake("x is normalised with the unbiased variance (divided by N*H*W - 1); training "
                "mode normalises with the biased one (divided by N*H*W), as PyTorch does",
                normalised(x, mean, var * M / (M - 1), case)),
        Mistake("the statistics are taken over the batch axis only; BatchNorm2D takes each "
                "channel's mean and variance over N, H and W",
                normalised(x, x.mean(axis=0), x.var(axis=0), case)),
        Mistake("x is normalised with the running statistics; training mode uses the batch's",
                normalised(x, channels(case["buffers"]["running_mean"]),
                           channels(case["buffers"]["running_var"]), case)),
    ]


@points(2)
def test_training_forward(student):
    """BatchNorm2D training forward: each channel normalised with its batch mean and variance"""
    case = student.cases["train"]
    layer = reference_layer(case)
    for step, x in enumerate(case["xs"]):
        expect_close(student("train", f"out.{step}"), layer.forward(x),
                     f"{LAYER}.forward out (training mode, step {step + 1})",
                     mistakes=forward_mistakes(x, case))


def running_statistics(case, unbiased=True, batch_weight=MOMENTUM):
    """running_mean, running_var after the training steps, computed from the definition."""
    mean, var = (case["buffers"][k].copy() for k in ("running_mean", "running_var"))
    for x in case["xs"]:
        M = x.size // x.shape[1]
        batch_var = x.var(axis=AXES) * (M / (M - 1) if unbiased else 1)
        mean = (1 - batch_weight) * mean + batch_weight * x.mean(axis=AXES)
        var = (1 - batch_weight) * var + batch_weight * batch_var
    return {"running_mean": mean, "running_var": var}


@points(1)
def test_running_statistics(student):
    """BatchNorm2D running statistics after two training steps (momentum 0.2, unbiased var)"""
    case = student.cases["train"]
    expected = running_statistics(case)
    wrong = {"the running variance takes the biased batch variance; it must take the unbiased "
             "one (times N*H*W / (N*H*W - 1)), as PyTorch does": running_statistics(case, False),
             "momentum is applied the wrong way round: running = (1 - momentum) * running + "
             "momentum * batch": running_statistics(case, batch_weight=1 - MOMENTUM),
             "the running statistics are not updated in training mode": case["buffers"]}
    for name, value in expected.items():
        expect_close(student("train", f"buffers.{name}"), value,
                     f"{LAYER} {name} after 2 training steps",
                     mistakes=[Mistake(what, got[name]) for what, got in wrong.items()])


def expect_grads(student, call_id, layer, mode):
    """The student's grads gamma and beta of `call_id` are the reference `layer`'s."""
    for name in ("gamma", "beta"):
        expect_close(student(call_id, f"grads.{name}"), layer.grads[name],
                     f"{LAYER}.grads[{name!r}] {mode}")


@points(2)
def test_training_backward(student):
    """BatchNorm2D training backward: dx through the batch statistics, dgamma, dbeta"""
    case = student.cases["train"]
    layer = reference_layer(case)
    for x in case["xs"]:
        layer.forward(x)
    dx = layer.backward(case["dout"])
    x_hat, scale, _ = layer.cache
    affine_only = case["dout"] * channels(scale)
    expect_close(student("train", "dx"), dx, f"{LAYER}.backward dx (training mode)",
                 mistakes=[Mistake("dx ignores the batch statistics (gamma / sqrt(var + eps) * "
                                   "dout); in training mode the mean and variance depend on x "
                                   "too", affine_only)])
    expect_grads(student, "train", layer, "(training mode)")


@points(2)
def test_eval_mode(student):
    """BatchNorm2D eval mode: running statistics, left unchanged; the plain affine backward"""
    case = student.cases["eval"]
    layer = reference_layer(case, training=False)
    out = layer.forward(case["x"])
    dx = layer.backward(case["dout"])
    x = case["x"]
    expect_close(student("eval", "out"), out, f"{LAYER}.forward out in eval mode",
                 mistakes=[Mistake("eval mode normalises with the batch statistics; it must use "
                                   "running_mean and running_var",
                                   normalised(x, x.mean(axis=AXES, keepdims=True),
                                              x.var(axis=AXES, keepdims=True), case))])
    for name, value in case["buffers"].items():
        expect_close(student("eval", f"buffers.{name}"), value,
                     f"{LAYER} {name} after a forward in eval mode (must not change)")
    expect_close(student("eval", "dx"), dx, f"{LAYER}.backward dx in eval mode")
    expect_grads(student, "eval", layer, "in eval mode")


@points(1)
def test_float32(student):
    """BatchNorm2D keeps float32: out, dx and the grads of its float32 gamma and beta float32,
    close to the float64 result"""
    case = student.cases["f32"]
    layer = reference_layer(case)
    x, dout = (case[k].astype(np.float64) for k in ("x", "dout"))
    out, dx = layer.forward(x), layer.backward(dout)
    M = x.size // x.shape[1]
    # a few roundings per value, of sums over M values of x_hat-sized terms
    bound = float_bound(np.float32, M, np.abs(out) + 1)
    expect_close(student("f32", "out"), out, f"{LAYER}.forward out (float32)",
                 dtype=np.float32, rtol=0, atol=bound)
    expect_close(student("f32", "dx"), dx, f"{LAYER}.backward dx (float32)", dtype=np.float32,
                 rtol=0, atol=float_bound(np.float32, M, np.abs(dx) + np.abs(dout).max()))
    x_hat = (x - x.mean(axis=AXES, keepdims=True)) / np.sqrt(x.var(axis=AXES, keepdims=True) + EPS)
    sizes = {"gamma": np.abs(dout * x_hat).sum(axis=AXES), "beta": np.abs(dout).sum(axis=AXES)}
    for key, size in sizes.items():
        expect_close(student("f32", f"grads.{key}"), layer.grads[key],
                     f"{LAYER}.grads[{key!r}] (float32 params)", dtype=np.float32, rtol=0,
                     atol=float_bound(np.float32, M, size + 1))
