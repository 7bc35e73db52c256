"""The inputs `cnnkit compare` runs each task on, and how it calls it: every task of every phase.

A case is a dict of named inputs, named and ordered as the function's docstring names its
arguments (a backward case holds `dout` and the inputs of the forward pass that made its
cache); a call returns a dict of named outputs ("out", "dx", "dw", "grads['0.w']", ...).
Shapes cover strides 1-3, padding 0-2, rectangular kernels, non-square inputs, N > 1, C > 1;
the regimes the tests use are included (pooling draws from the hidden suites' regimes: ties,
all-negative windows, large values; x == 0 for ReLU).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Callable, Iterator

import numpy as np

from .autograder.suites.common import draw

CONV_SHAPES = [  # (x shape, w shape, stride, padding)
    ((1, 1, 4, 4), (1, 1, 2, 2), 1, 0),
    ((2, 3, 7, 6), (4, 3, 3, 2), 1, 0),
    ((2, 3, 7, 6), (4, 3, 3, 2), 2, 1),
    ((3, 2, 9, 8), (2, 2, 2, 3), 3, 2),
    ((2, 4, 8, 8), (3, 4, 1, 1), 2, 0),
]
# (x shape, size, stride, regime of x): the hidden suites' regimes (`REGIMES`), except tiny
# magnitudes, which compare's absolute tolerance would not tell apart.
POOL_CASES = [((1, 1, 4, 4), 2, 2, "ties and plateaus"), ((2, 3, 6, 6), 2, 2, "all-negative"),
              ((2, 3, 7, 6), 3, 2, "mixed signs"), ((2, 2, 5, 7), 2, 1, "ties and plateaus"),
              ((1, 2, 8, 7), 2, 3, "large magnitudes (~1e12)")]
DENSE_SHAPES = [(1, 3, 2), (4, 7, 5), (8, 1600, 10)]  # (N, D, M)


@dataclass(frozen=True)
class Task:
    cases: Callable[[np.random.Generator], Iterator[dict]]
    call: Callable[[object, dict], dict]  # (implementation, case) -> {output name: value}
    float32: bool = False  # the layer classes work in float32: looser tolerances


def conv_cases(rng):
    for x_shape, w_shape, stride, padding in CONV_SHAPES:
        N, C, H, W = x_shape
        F, _, kh, kw = w_shape
        Ho, Wo = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
        yield {"x": rng.standard_normal(x_shape), "w": rng.standard_normal(w_shape),
               "b": rng.standard_normal(F), "stride": stride, "padding": padding,
               "kh": kh, "kw": kw, "cols": rng.standard_normal((C * kh * kw, N * Ho * Wo)),
               "dout": rng.standard_normal((N, F, Ho, Wo))}


def pool_cases(rng):
    for shape, size, stride, regime in POOL_CASES:
        out = (*shape[:2], (shape[2] - size) // stride + 1, (shape[3] - size) // stride + 1)
        yield {"x": draw(rng, shape, regime), "size": size, "stride": stride,
               "dout": rng.standard_normal(out), "note": regime}


def dense_cases(rng):
    for n, d, m in DENSE_SHAPES:
        yield {"x": rng.standard_normal((n, d)), "w": rng.standard_normal((d, m)),
               "b": rng.standard_normal(m), "dout": rng.standard_normal((n, m))}


def image_cases(rng):
    """Images (N, C, H, W) with exact zeros among them (ReLU's kink), and a dout like them."""
    for shape in [(1, 2, 3, 3), (4, 2, 3, 5), (2, 8, 5, 5)]:
        x = rng.standard_normal(shape)
        x[rng.random(shape) < 0.2] = 0.0
        yield {"x": x, "dout": rng.standard_normal(shape), "note": "a fifth of x exactly 0"}


def logits_cases(rng):
    for n, k in [(1, 3), (4, 10), (16, 10)]:
        yield {"logits": 3 * rng.standard_normal((n, k)), "y": rng.integers(0, k, n)}


def col2im_cases(rng):
    for case in conv_cases(rng):
        yield {"cols": case["cols"], "x_shape": case["x"].shape, "kh": case["kh"],
               "kw": case["kw"], "stride": case["stride"], "padding": case["padding"]}


def only(*names):
    """Cases of conv_cases restricted to `names`, in that order."""
    def cases(rng):
        for case in conv_cases(rng):
            yield {k: case[k] for k in names}
    return cases


# ---------------------------------------------------------------------------------------------
# Functions of Phases 1-7 and 10


def conv_backward(s, a):
    _, cache = s.conv.conv2d_forward(a["x"], a["w"], a["b"], stride=a["stride"],
                                     padding=a["padding"])
    return dict(zip(("dx", "dw", "db"), s.conv.conv2d_backward(a["dout"], cache)))


def pooled(kind, backward):
    def call(s, a):
        out, cache = getattr(s.pool, f"{kind}_pool_forward")(a["x"], size=a["size"],
                                                             stride=a["stride"])
        if not backward:
            return {"out": out}
        return {"dx": getattr(s.pool, f"{kind}_pool_backward")(a["dout"], cache)}
    return call


def global_pooled(backward):
    def call(s, a):
        out, cache = s.pool.global_avg_pool_forward(a["x"])
        return {"dx": s.pool.global_avg_pool_backward(a["dout"][:, :, 0, 0], cache)} if backward \
            else {"out": out}
    return call


def layer_function(name, backward, outputs=("dx",)):
    """layers.<name>_forward on the case's x (and w, b), then its backward on dout."""
    def call(s, a):
        args = (a["x"], a["w"], a["b"]) if name == "dense" else (a["x"],)
        out, cache = getattr(s.layers, f"{name}_forward")(*args)
        if not backward:
            return {"out": out}
        dout = a["dout"].reshape(out.shape)
        result = getattr(s.layers, f"{name}_backward")(dout, cache)
        return dict(zip(outputs, result if len(outputs) > 1 else (result,)))
    return call


# ---------------------------------------------------------------------------------------------
# Classes of Phase 8 and 12-13, SGD, the receptive field


def conv_layer(s, a):
    """A Conv2D of the case's shape, stride and padding, holding the case's w and b."""
    F, C, kh, kw = a["w"].shape
    layer = s.layers.Conv2D(C, F, (kh, kw), stride=a["stride"], padding=a["padding"], rng=0)
    layer.params["w"][...] = a["w"]
    layer.params["b"][...] = a["b"]
    return layer


def layer_pass(make, backward, grads=()):
    """A layer made by make(s, a): forward on x (float32), then backward on dout."""
    def call(s, a):
        layer = make(s, a)
        out = layer.forward(a["x"].astype(np.float32))
        if not backward:
            return {"out": out}
        dx = layer.backward(a["dout"].reshape(out.shape).astype(np.float32))
        return {"dx": dx, **{f"grads['{g}']": layer.grads.get(g) for g in grads}}
    return call


def small_cnn(s):
    """Conv2D(2, 3, 3, padding 1), ReLU, MaxPool2D(2, 2), Flatten, Dense(27, 4): a CNN whose
    (N, 2, 6, 6) inputs exercise every layer kind of the guide's."""
    L = s.layers
    return s.model.CNN([L.Conv2D(2, 3, 3, padding=1, rng=1), L.ReLU(), L.MaxPool2D(2, 2),
                        L.Flatten(), L.Dense(27, 4, rng=2)])


def cnn_cases(rng):
    for n in (1, 5):
        yield {"x": rng.standard_normal((n, 2, 6, 6)), "dout": rng.standard_normal((n, 4))}


def cnn_pass(backward):
    def call(s, a):
        model = small_cnn(s)
        logits = model.forward(a["x"].astype(np.float32))
        if not backward:
            return {"logits": logits}
        dx = model.backward(a["dout"].astype(np.float32))
        return {"dx": dx, **{f"grads['{k}']": v for k, v in sorted(model.grads.items())}}
    return call


def sgd_cases(rng):
    for lr, momentum in [(0.1, 0.0), (0.05, 0.9)]:
        yield {"params": {"0.w": rng.standard_normal((3, 4)), "0.b": rng.standard_normal(4)},
               "grads": [{"0.w": rng.standard_normal((3, 4)), "0.b": rng.standard_normal(4)}
                         for _ in range(3)], "lr": lr, "momentum": momentum}


def sgd_steps(s, a):
    """Three steps of SGD(lr, momentum) from params, one grads dict each."""
    params = {k: v.copy() for k, v in a["params"].items()}
    optimizer = s.model.SGD(lr=a["lr"], momentum=a["momentum"])
    for grads in a["grads"]:
        optimizer.step(params, grads)
    return {f"params['{k}'] after 3 steps": v for k, v in sorted(params.items())}


def receptive_cases(rng):
    yield {"layers": [("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1), ("pool", 2, 2),
                      ("conv", 3, 1)]}
    yield {"layers": [("conv", 5, 2), ("conv", 3, 1), ("pool", 3, 3)]}


def batchnorm(backward):
    def call(s, a):
        blocks = import_module(f"{s.layers.__package__}.blocks")
        layer = blocks.BatchNorm2D(a["x"].shape[1])
        out = layer.forward(a["x"].astype(np.float32))
        if backward:
            return {"dx": layer.backward(a["dout"].astype(np.float32)),
                    "grads['gamma']": layer.grads.get("gamma"),
                    "grads['beta']": layer.grads.get("beta")}
        return {"out": out, "buffers['running_mean']": layer.buffers["running_mean"],
                "buffers['running_var']": layer.buffers["running_var"]}
    return call


def block(kind, backward):
    """Dropout(p=0.3, rng=0) or ResidualBlock(channels, rng=0), forward then backward."""
    def call(s, a):
        blocks = import_module(f"{s.layers.__package__}.blocks")
        layer = blocks.Dropout(0.3, rng=0) if kind == "Dropout" else \
            blocks.ResidualBlock(a["x"].shape[1], rng=0)
        out = layer.forward(a["x"].astype(np.float32))
        if not backward:
            return {"out": out}
        return {"dx": layer.backward(a["dout"].astype(np.float32)),
                **{f"grads['{k}']": v for k, v in sorted(layer.grads.items())}}
    return call


TASKS: dict[str, Task] = {
    "conv2d_forward_naive": Task(only("x", "w", "b", "stride", "padding"), lambda s, a: {
        "out": s.conv.conv2d_forward_naive(a["x"], a["w"], a["b"], stride=a["stride"],
                                           padding=a["padding"])}),
    "im2col": Task(only("x", "kh", "kw", "stride", "padding"), lambda s, a: {"cols": s.conv.im2col(
        a["x"], a["kh"], a["kw"], stride=a["stride"], padding=a["padding"])}),
    "conv2d_forward": Task(only("x", "w", "b", "stride", "padding"), lambda s, a: {
        "out": s.conv.conv2d_forward(a["x"], a["w"], a["b"], stride=a["stride"],
                                     padding=a["padding"])[0]}),
    "col2im": Task(col2im_cases, lambda s, a: {"dx": s.conv.col2im(
        a["cols"], a["x_shape"], a["kh"], a["kw"], stride=a["stride"], padding=a["padding"])}),
    "conv2d_backward": Task(only("dout", "x", "w", "b", "stride", "padding"), conv_backward),
    "max_pool_forward": Task(pool_cases, pooled("max", False)),
    "max_pool_backward": Task(pool_cases, pooled("max", True)),
    "flatten_forward": Task(image_cases, layer_function("flatten", False)),
    "flatten_backward": Task(image_cases, layer_function("flatten", True)),
    "dense_forward": Task(dense_cases, layer_function("dense", False)),
    "dense_backward": Task(dense_cases, layer_function("dense", True, ("dx", "dw", "db"))),
    "relu_forward": Task(image_cases, layer_function("relu", False)),
    "relu_backward": Task(image_cases, layer_function("relu", True)),
    "softmax_cross_entropy": Task(logits_cases, lambda s, a: dict(zip(
        ("loss", "dlogits"), s.layers.softmax_cross_entropy(a["logits"], a["y"])))),
    "Conv2D.forward": Task(only("x", "w", "b", "stride", "padding"),
                           layer_pass(conv_layer, False), float32=True),
    "Conv2D.backward": Task(only("dout", "x", "w", "b", "stride", "padding"),
                            layer_pass(conv_layer, True, ("w", "b")), float32=True),
    "MaxPool2D.forward": Task(pool_cases, layer_pass(
        lambda s, a: s.layers.MaxPool2D(a["size"], a["stride"]), False), float32=True),
    "MaxPool2D.backward": Task(pool_cases, layer_pass(
        lambda s, a: s.layers.MaxPool2D(a["size"], a["stride"]), True), float32=True),
    "CNN.forward": Task(cnn_cases, cnn_pass(False), float32=True),
    "CNN.backward": Task(cnn_cases, cnn_pass(True), float32=True),
    "SGD.step": Task(sgd_cases, sgd_steps),
    "avg_pool_forward": Task(pool_cases, pooled("avg", False)),
    "avg_pool_backward": Task(pool_cases, pooled("avg", True)),
    "global_avg_pool_forward": Task(pool_cases, global_pooled(False)),
    "global_avg_pool_backward": Task(pool_cases, global_pooled(True)),
    "receptive_field": Task(receptive_cases, lambda s, a: {
        "sizes": np.asarray(s.model.receptive_field(a["layers"]))}),
    "BatchNorm2D.forward": Task(image_cases, batchnorm(False), float32=True),
    "BatchNorm2D.backward": Task(image_cases, batchnorm(True), float32=True),
    "Dropout.forward": Task(image_cases, block("Dropout", False), float32=True),
    "Dropout.backward": Task(image_cases, block("Dropout", True), float32=True),
    "ResidualBlock.forward": Task(image_cases, block("ResidualBlock", False), float32=True),
    "ResidualBlock.backward": Task(image_cases, block("ResidualBlock", True), float32=True),
}
