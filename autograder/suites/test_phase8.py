"""Hidden suite, Phase 8: Conv2D and MaxPool2D layers, the CNN container, SGD with momentum.

Graded on top of the reference's Phases 1-7 (PATCHES), so that only this phase's code counts.
"""

import numpy as np

from cnnkit.autograder.suite import Mistake, expect_close, points
from cnnkit.autograder.suites.common import ref
from cnnkit.phases import PHASES

PHASE = 8
PATCHES = tuple(f"{task.split('::')[0].removesuffix('.py')}.{task.split('::')[1]}"
                for p in PHASES if p.number < PHASE for task in p.tasks if "." not in
                task.split("::")[1])
MODEL = [  # a small CNN: every layer kind, stride and padding
    {"class": "layers.Conv2D", "init": {"in_channels": 2, "out_channels": 3, "kernel_size": [3, 2],
                                        "stride": 1, "padding": 1}},
    {"class": "layers.ReLU", "init": {}},
    {"class": "layers.MaxPool2D", "init": {"size": 2, "stride": 2}},
    {"class": "layers.Conv2D", "init": {"in_channels": 3, "out_channels": 4, "kernel_size": 2,
                                        "stride": 2, "padding": 0}},
    {"class": "layers.Flatten", "init": {}},
    {"class": "layers.Dense", "init": {"in_features": 4 * 2 * 1, "out_features": 5}},  # x (2, 8, 6)
]


def reference_model(params):
    model = ref.model.CNN([getattr(ref.layers, spec["class"].split(".")[1])(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in spec["init"].items()})
        for spec in MODEL])
    for name, value in params.items():
        index, key = name.split(".")
        model.layers[int(index)].params[key] = value.copy()
    return model


def build_job(job, rng):
    # Each layer and the model run forward twice (an earlier batch, then the checked one) before
    # backward, so that state kept from an earlier call instead of the last one is caught.
    conv = {"x": rng.standard_normal((2, 3, 7, 6)), "w": rng.standard_normal((4, 3, 3, 2)),
            "b": rng.standard_normal(4), "dout": rng.standard_normal((2, 4, 4, 4))}
    job.recipe("conv", "layer", **{"class": "layers.Conv2D",
               "init": {"in_channels": 3, "out_channels": 4, "kernel_size": [3, 2], "stride": 2,
                        "padding": 1},
               "params": {"w": conv["w"], "b": conv["b"]},
               "forward": [rng.standard_normal((3, 3, 5, 8)), conv["x"]], "backward": conv["dout"]})
    # mixed signs with ties (all-negative windows among them)
    pool = {"x": rng.integers(-4, 2, (2, 3, 7, 7)).astype(np.float64),
            "dout": rng.standard_normal((2, 3, 5, 5))}
    # stride 1: neither max_pool_forward's default stride (2) nor the size (3), so a layer that
    # drops its stride or passes its size for it is caught.
    job.recipe("pool", "layer", **{"class": "layers.MaxPool2D", "init": {"size": 3, "stride": 1},
               "forward": [rng.standard_normal((1, 3, 6, 9)), pool["x"]],
               "backward": pool["dout"]})
    template = reference_model({})
    params = {name: rng.standard_normal(p.shape) * 0.5 for name, p in template.params.items()}
    model = {"x": rng.standard_normal((3, 2, 8, 6)), "dout": rng.standard_normal((3, 5)),
             "params": params}
    job.recipe("model", "model", **{"class": "model.CNN", "layers": MODEL, "params": params,
               "forward": [rng.standard_normal((2, 2, 8, 6)), model["x"]],
               "backward": model["dout"]})
    sgd = {"params": {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)},
           "grads": [{"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
                     for _ in range(3)]}
    # momentum 0.8, not the default 0.9 (the guide's value), so that one hard-coded is caught
    # twice, from the same start: a second optimizer must not inherit the first one's velocity
    for call_id in ("sgd", "sgd-again"):
        job.recipe(call_id, "optimizer", **{"class": "model.SGD",
                   "init": {"lr": 0.1, "momentum": 0.8}, "params": sgd["params"],
                   "grads": sgd["grads"]})
    # the learning rate changed between steps, as training's schedule does at every step
    sgd["lrs"] = [float(lr) for lr in rng.uniform(0.02, 0.3, len(sgd["grads"]))]
    job.recipe("sgd-schedule", "optimizer", **{"class": "model.SGD",
               "init": {"lr": 0.1, "momentum": 0.8}, "params": sgd["params"],
               "grads": sgd["grads"], "lrs": sgd["lrs"]})
    return {"conv": conv, "pool": pool, "model": model, "sgd": sgd}


@points(3)
def test_conv2d_layer(student):
    """Conv2D: forward with its params, backward fills grads w and b and returns dx"""
    c = student.cases["conv"]
    out, cache = ref.conv.conv2d_forward(c["x"], c["w"], c["b"], stride=2, padding=1)
    dx, dw, db = ref.conv.conv2d_backward(c["dout"], cache)
    layer = "Conv2D(3, 4, (3, 2), stride=2, padding=1)"
    expect_close(student("conv", "out.1"), out, f"{layer}.forward out (its second call)")
    expect_close(student("conv", "dx"), dx, f"{layer}.backward dx (after two forwards: the "
                 f"last one's cache)")
    expect_close(student("conv", "grads.w"), dw, f"{layer}.grads['w']")
    expect_close(student("conv", "grads.b"), db, f"{layer}.grads['b']")


@points(2)
def test_maxpool2d_layer(student):
    """MaxPool2D: forward and backward through the layer, with its size and stride"""
    p = student.cases["pool"]
    out, cache = ref.pool.max_pool_forward(p["x"], 3, 1)
    expect_close(student("pool", "out.1"), out, "MaxPool2D(3, stride=1).forward out (its second "
                 "call)")
    expect_close(student("pool", "dx"), ref.pool.max_pool_backward(p["dout"], cache),
                 "MaxPool2D(3, stride=1).backward dx (after two forwards: the last one's cache)")


@points(3)
def test_cnn_forward_backward(student):
    """CNN: layers run in order forward and in reverse backward; grads keyed '<index>.<name>'"""
    m = student.cases["model"]
    model = reference_model(m["params"])
    out = model.forward(m["x"])
    dx = model.backward(m["dout"])
    expect_close(student("model", "out.1"), out, "CNN.forward out (its second call)")
    expect_close(student("model", "dx"), dx, "CNN.backward dx")
    for name, grad in model.grads.items():
        expect_close(student("model", f"grads.{name}"), grad, f"CNN.grads[{name!r}]")


@points(2)
def test_sgd_momentum(student):
    """SGD: three steps with momentum 0.8 (v = m v + g; p -= lr v), in place, twice: each SGD
    has its own velocity"""
    s = student.cases["sgd"]
    params = {k: v.copy() for k, v in s["params"].items()}
    optimizer = ref.model.SGD(lr=0.1, momentum=0.8)
    plain = {k: v.copy() for k, v in s["params"].items()}
    for grads in s["grads"]:
        optimizer.step(params, grads)
        for k in plain:
            plain[k] -= 0.1 * grads[k]
    for call_id, which in (("sgd", ""), ("sgd-again", ", a second SGD from the same start")):
        for k, expected in params.items():
            expect_close(student(call_id, f"params.{k}"), expected, f"SGD(lr=0.1, momentum=0.8) "
                         f"after 3 steps{which} params[{k!r}]",
                         mistakes=[Mistake("momentum is ignored (plain SGD)", plain[k])])


@points(1)
def test_sgd_follows_a_changing_learning_rate_and_leaves_grads_alone(student):
    """SGD: the learning rate changed before each step (p -= lr v, with v = m v + g kept free of
    lr); the gradients it is given are never written to (its velocity is its own array)"""
    s = student.cases["sgd"]
    params = {k: v.copy() for k, v in s["params"].items()}
    optimizer = ref.model.SGD(lr=0.1, momentum=0.8)
    scaled = {k: v.copy() for k, v in s["params"].items()}  # v = m v + lr g; p -= v
    velocity = {k: np.zeros_like(v) for k, v in scaled.items()}
    for lr, grads in zip(s["lrs"], s["grads"]):
        optimizer.lr = lr
        optimizer.step(params, grads)
        for k in scaled:
            velocity[k] = 0.8 * velocity[k] + lr * grads[k]
            scaled[k] -= velocity[k]
    for i, grads in enumerate(s["grads"]):
        for k, original in grads.items():
            if not np.array_equal(student("sgd-schedule", f"grads.{i}.{k}"), original):
                raise AssertionError(f"SGD.step changed grads[{k!r}] of step {i} in place: the "
                                     f"optimizer's velocity must be its own array (a copy)")
    for k, expected in params.items():
        expect_close(student("sgd-schedule", f"params.{k}"), expected,
                     f"SGD(momentum=0.8) after 3 steps at learning rates "
                     f"{[round(lr, 3) for lr in s['lrs']]} params[{k!r}]",
                     mistakes=[Mistake("the learning rate is folded into the velocity "
                                       "(v = m v + lr g), which differs once lr changes",
                                       scaled[k])])
