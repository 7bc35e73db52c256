"""Hidden suite, Phase 11 (bonus): receptive_field."""

import numpy as np

from cnnkit.autograder.suite import Mistake, expect_close, points
from cnnkit.autograder.suites.common import ref

PHASE = 11
PATCHES = ()
# Worked by hand in the public tests (and one more stride-2 conv, below a pool).
HAND = {
    "guide": [("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1)],
    # first: with a pool above it, a stride ignored and a jump left out give different sizes
    "strided-conv-and-pool": [("conv", 3, 2), ("pool", 2, 2), ("conv", 3, 1)],
    "strided-convs": [("conv", 3, 2), ("conv", 3, 2), ("conv", 3, 1)],
    "overlapping-pool": [("pool", 3, 2), ("conv", 5, 1)],
    "1x1-convs": [("conv", 1, 1), ("conv", 3, 1), ("conv", 1, 1)],
}


def build_job(job, rng):
    stacks = dict(HAND)
    for i in range(8):  # kernels 1-5 and strides 1-3 on convs and pools alike
        stacks[f"random-{i}"] = [(str(rng.choice(["conv", "pool"])), int(rng.integers(1, 6)),
                                  int(rng.integers(1, 4))) for _ in range(rng.integers(1, 8))]
    stacks["strided-conv-on-top"] = [("conv", 3, 1), ("conv", 3, 2), ("pool", 2, 2),
                                     ("conv", int(rng.integers(2, 6)), 2), ("conv", 3, 1)]
    for name, layers in stacks.items():
        job.call(name, "model.receptive_field", layers)
    return stacks


def returned(student, call_id):
    """What receptive_field returned, as an array: the child sends a list as one array, and a
    tuple as one output per item ("0", "1", ...)."""
    call = student.result.calls[call_id]
    items = sorted((int(name), value) for name, value in call.outputs.items() if name.isdigit())
    if call.status == "ok" and items and "" not in call.outputs:
        shapes = sorted({value.shape for _, value in items})
        if shapes != [()]:
            raise AssertionError(f"{call_id}: receptive_field must return one number per layer; "
                                 f"its items have shapes {shapes[:3]}")
        return np.array([value for _, value in items])
    return student(call_id)


def front_to_back(layers, grow, jump_first=False, jump_kinds=("conv", "pool")):
    """The sizes of a pass from the input up in which each layer does size = grow(size, kernel,
    stride, jump); the jump is multiplied by the strides of `jump_kinds` layers, after `grow`
    (or before it: jump_first)."""
    sizes, size, jump = [], 1, 1
    for kind, kernel, stride in layers:
        step = stride if kind in jump_kinds else 1
        jump *= step if jump_first else 1
        size = grow(size, kernel, stride, jump)
        jump *= 1 if jump_first else step
        sizes.append(size)
    return np.array(sizes)


def mistakes(layers):
    """Known wrong receptive-field passes over these layers."""
    expected = np.array(ref.model.receptive_field(layers))

    def grow(r, k, s, j):
        return r + (k - 1) * j

    return [
        Mistake("the jump is left out: a layer adds (kernel - 1) * jump input pixels, where the "
                "jump is the product of the strides of the layers below it",
                front_to_back(layers, lambda r, k, s, j: r + k - 1)),
        Mistake("the jump is multiplied by the layer's own stride before it is used; a layer's "
                "kernel steps over units of the layer below, whose jump holds only the strides "
                "below", front_to_back(layers, grow, jump_first=True)),
        Mistake("r = (r - 1) * stride + kernel is the recursion from the top layer down to the "
                "input; going up from the input, r grows by (kernel - 1) * jump",
                front_to_back(layers, lambda r, k, s, j: (r - 1) * s + k)),
        Mistake("the strides of conv layers are ignored: a strided convolution multiplies the "
                "jump as a pool does", front_to_back(layers, grow, jump_kinds=("pool",))),
        Mistake("the list starts with the input's r_0 = 1; it needs one entry per layer",
                np.concatenate([[1], expected])),
        Mistake("only the last layer's receptive field is returned; the list needs one entry "
                "per layer", expected[-1]),
    ]


def check(student, names):
    for name in names:
        layers = student.cases[name]
        expect_close(returned(student, name), ref.model.receptive_field(layers),
                     f"receptive_field({layers})", atol=0, rtol=0, mistakes=mistakes(layers))


@points(2)
def test_guide_example(student):
    """the guide's conv3, pool2/2, conv3, pool2/2, conv3: [3, 4, 8, 10, 18], and random stacks"""
    check(student, ["guide"])
    test_strides_and_kernels(student)  # no points for a fixed answer to the guide's stack


@points(2)
def test_strides_and_kernels(student):
    """strided convolutions, overlapping pools, 1x1 kernels, random stacks"""
    check(student, [name for name in student.cases if name != "guide"])


@points(1)
def test_returns_ints(student):
    """a list of ints, one per layer"""
    test_guide_example(student)  # no credit for the type without the values
    for name in student.cases:
        got = returned(student, name)
        if got.dtype.kind not in "iu":
            raise AssertionError(f"receptive_field({student.cases[name]}) must return ints "
                                 f"(got {got.dtype} values {got.ravel()[:8].tolist()}"
                                 f"{'...' if got.size > 8 else ''})")
