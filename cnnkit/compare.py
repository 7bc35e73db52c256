"""`cnnkit compare FUNCTION`: your function against the reference, on the same random inputs.

For a self-learner: runs one contract function of an implementation (default: assignments) and
of the reference over a range of shapes (strides 1-3, padding 0-2, rectangular kernels,
non-square inputs, N > 1, C > 1) and shows, case by case, where they first differ.
Backward functions run each implementation's own forward first, for its own cache.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .paths import KIT_ROOT, import_scratchcnn, resolve_impl

MODULES = ("conv", "pool", "layers", "model")
CONV_SHAPES = [  # (x shape, w shape, stride, padding)
    ((1, 1, 4, 4), (1, 1, 2, 2), 1, 0),
    ((2, 3, 7, 6), (4, 3, 3, 2), 1, 0),
    ((2, 3, 7, 6), (4, 3, 3, 2), 2, 1),
    ((3, 2, 9, 8), (2, 2, 2, 3), 3, 2),
    ((2, 4, 8, 8), (3, 4, 1, 1), 2, 0),
]
POOL_SHAPES = [((1, 1, 4, 4), 2, 2), ((2, 3, 6, 6), 2, 2), ((2, 3, 7, 6), 3, 2),
               ((2, 2, 5, 7), 2, 1), ((1, 2, 8, 7), 2, 3)]


def conv_cases(rng):
    for x_shape, w_shape, stride, padding in CONV_SHAPES:
        x = rng.standard_normal(x_shape)
        Ho = (x_shape[2] + 2 * padding - w_shape[2]) // stride + 1
        Wo = (x_shape[3] + 2 * padding - w_shape[3]) // stride + 1
        yield (f"x {x_shape}, w {w_shape}, stride={stride}, padding={padding}",
               SimpleNamespace(x=x, w=rng.standard_normal(w_shape),
                               b=rng.standard_normal(w_shape[0]), stride=stride, padding=padding,
                               kh=w_shape[2], kw=w_shape[3],
                               cols=rng.standard_normal((x_shape[1] * w_shape[2] * w_shape[3],
                                                         x_shape[0] * Ho * Wo)),
                               dout=rng.standard_normal((x_shape[0], w_shape[0], Ho, Wo))))


def pool_cases(rng):
    for shape, size, stride in POOL_SHAPES:
        # Values on a coarse grid: ties happen, as in real images after ReLU.
        x = rng.integers(0, 6, shape).astype(np.float64)
        out_shape = (*shape[:2], (shape[2] - size) // stride + 1, (shape[3] - size) // stride + 1)
        yield (f"x {shape} (integers 0..5, with ties), size={size}, stride={stride}",
               SimpleNamespace(x=x, size=size, stride=stride, dout=rng.standard_normal(out_shape),
                               map_grad=rng.standard_normal(shape[:2])))


def dense_cases(rng):
    for n, d, m in [(1, 3, 2), (4, 7, 5), (8, 1600, 10)]:
        yield (f"x ({n}, {d}), w ({d}, {m})",
               SimpleNamespace(x=rng.standard_normal((n, d)), w=rng.standard_normal((d, m)),
                               b=rng.standard_normal(m), dout=rng.standard_normal((n, m)),
                               image=rng.standard_normal((n, 2, 3, d)),
                               image_grad=rng.standard_normal((n, 2, 3, d)),
                               labels=rng.integers(0, d, n)))


def conv_backward(s, a):
    _, cache = s.conv.conv2d_forward(a.x, a.w, a.b, stride=a.stride, padding=a.padding)
    return s.conv.conv2d_backward(a.dout, cache)


def pool_backward(kind):
    """Backward of max or average pooling (`kind`), after the implementation's own forward."""
    def call(s, a):
        _, cache = getattr(s.pool, f"{kind}_pool_forward")(a.x, size=a.size, stride=a.stride)
        return getattr(s.pool, f"{kind}_pool_backward")(a.dout, cache)
    return call


def global_avg_pool_backward(s, a):
    return s.pool.global_avg_pool_backward(a.map_grad, s.pool.global_avg_pool_forward(a.x)[1])


def flatten_backward(s, a):
    _, cache = s.layers.flatten_forward(a.image)
    return s.layers.flatten_backward(a.image_grad.reshape(len(a.image), -1), cache)


def dense_backward(s, a):
    return s.layers.dense_backward(a.dout, s.layers.dense_forward(a.x, a.w, a.b)[1])


def relu_backward(s, a):
    return s.layers.relu_backward(a.image_grad, s.layers.relu_forward(a.image)[1])


# function -> (input cases, call on an implementation `s` with case `a` -> its output(s))
FUNCTIONS = {
    "conv2d_forward_naive": (conv_cases, lambda s, a: s.conv.conv2d_forward_naive(
        a.x, a.w, a.b, stride=a.stride, padding=a.padding)),
    "im2col": (conv_cases, lambda s, a: s.conv.im2col(
        a.x, a.kh, a.kw, stride=a.stride, padding=a.padding)),
    "conv2d_forward": (conv_cases, lambda s, a: s.conv.conv2d_forward(
        a.x, a.w, a.b, stride=a.stride, padding=a.padding)[0]),
    "col2im": (conv_cases, lambda s, a: s.conv.col2im(
        a.cols, a.x.shape, a.kh, a.kw, stride=a.stride, padding=a.padding)),
    "conv2d_backward": (conv_cases, conv_backward),
    "max_pool_forward": (pool_cases, lambda s, a: s.pool.max_pool_forward(
        a.x, size=a.size, stride=a.stride)[0]),
    "max_pool_backward": (pool_cases, pool_backward("max")),
    "flatten_forward": (dense_cases, lambda s, a: s.layers.flatten_forward(a.image)[0]),
    "flatten_backward": (dense_cases, flatten_backward),
    "dense_forward": (dense_cases, lambda s, a: s.layers.dense_forward(a.x, a.w, a.b)[0]),
    "dense_backward": (dense_cases, dense_backward),
    "relu_forward": (dense_cases, lambda s, a: s.layers.relu_forward(a.image)[0]),
    "relu_backward": (dense_cases, relu_backward),
    "avg_pool_forward": (pool_cases, lambda s, a: s.pool.avg_pool_forward(
        a.x, size=a.size, stride=a.stride)[0]),
    "avg_pool_backward": (pool_cases, pool_backward("avg")),
    "global_avg_pool_forward": (pool_cases, lambda s, a: s.pool.global_avg_pool_forward(a.x)[0]),
    "global_avg_pool_backward": (pool_cases, global_avg_pool_backward),
    "softmax_cross_entropy": (dense_cases, lambda s, a: tuple(np.asarray(v) for v in
                                                              s.layers.softmax_cross_entropy(
                                                                  a.x * 3, a.labels))),
}


def first_difference(got, expected, rtol=1e-5, atol=1e-7) -> str | None:
    """None if `got` matches `expected`, else one plain line saying where it first differs."""
    got_parts = got if isinstance(got, tuple) else (got,)
    expected_parts = expected if isinstance(expected, tuple) else (expected,)
    if len(got_parts) != len(expected_parts):
        return f"returned {len(got_parts)} value(s), the reference returns {len(expected_parts)}"
    for part, (g, e) in enumerate(zip(got_parts, expected_parts)):
        name = f"output {part}: " if len(expected_parts) > 1 else ""
        g = np.asarray(g)
        if g.shape != e.shape:
            return f"{name}shape {g.shape}, the reference's is {e.shape}"
        bad = ~np.isclose(g, e, rtol=rtol, atol=atol)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            return (f"{name}first difference at index {list(index)}: reference {e[index]:.6g}, "
                    f"yours {g[index]:.6g} ({int(bad.sum())} of {bad.size} values differ)")
    return None


def compare(function: str, impl: Path, seed: int = 0) -> list[tuple[str, str | None]]:
    """(case description, difference or None) for each case of `function`."""
    cases, call = FUNCTIONS[function]
    reference = import_scratchcnn(KIT_ROOT / "solutions", MODULES, "_cnnkit_reference")
    yours = import_scratchcnn(impl, MODULES)
    results = []
    for description, case in cases(np.random.default_rng(seed)):
        expected = call(reference, case)
        expected = tuple(map(np.asarray, expected)) if isinstance(expected, tuple) else expected
        try:
            difference = first_difference(call(yours, case), expected)
        except NotImplementedError as err:
            difference = f"not started: {err}"
        except Exception as err:  # a self-learner wants to see their error, not a traceback wall
            difference = f"raised {type(err).__name__}: {err}"
        results.append((description, difference))
    return results


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare", help="compare one of your functions with the reference on random inputs")
    parser.add_argument("function", choices=sorted(FUNCTIONS), metavar="FUNCTION",
                        help=", ".join(FUNCTIONS))
    parser.add_argument("--impl", default="assignments",
                        help="'assignments' (default) or a folder holding scratchcnn/")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    parser.set_defaults(func=run)


def run(args) -> int:
    results = compare(args.function, resolve_impl(args.impl), args.seed)
    for description, difference in results:
        print(f"{'same' if difference is None else 'DIFFERS':8} {args.function}({description})")
        if difference:
            print(f"         {difference}")
    same = sum(d is None for _, d in results)
    print(f"{same} of {len(results)} cases match the reference")
    return 0 if same == len(results) else 1
