"""The reference's bonus phases beyond the public tests (see test_reference.py for the core).

Phase 10 (average pooling): vectorised; equal to the loop definitions in float64 and float32
over sizes 1-3, strides 1-3 and non-square inputs; backward is the adjoint of forward and agrees
with numerical gradients; inputs untouched; dtypes kept; clear errors. Phase 11 (receptive
field): equal to the region one unit's gradient reaches through real layers, and to the
top-down recursion; clear errors.
"""

import itertools

import numpy as np
import pytest
from scratchcnn import blocks, conv, model, pool
from test_reference import TOLERANCE, loops_in

from cnnkit.autograder.suites.common import expect_gradient, numerical_gradient

POOL_SETTINGS = list(itertools.product([(2, 3, 7, 6), (1, 2, 9, 11), (3, 1, 5, 5)], (1, 2, 3),
                                       (1, 2, 3)))


@pytest.mark.parametrize("function", [pool.avg_pool_forward, pool.avg_pool_backward,
                                      pool.global_avg_pool_forward,
                                      pool.global_avg_pool_backward])
def test_average_pools_have_no_python_loops(function):
    assert loops_in(function) == []


def avg_pool_loops(x, dout, size, stride):
    """The definitions: each window's mean, and its gradient dout/size**2 added to every position
    of the window. Returns (out, dx) in float64."""
    N, C, Ho, Wo = dout.shape
    out, dx = np.empty(dout.shape), np.zeros(x.shape)
    for n, c, oh, ow in itertools.product(range(N), range(C), range(Ho), range(Wo)):
        rows, cols = slice(oh * stride, oh * stride + size), slice(ow * stride, ow * stride + size)
        out[n, c, oh, ow] = x[n, c, rows, cols].astype(np.float64).mean()
        dx[n, c, rows, cols] += dout[n, c, oh, ow] / size**2
    return out, dx


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, size, stride", POOL_SETTINGS)
def test_avg_pool_matches_loops(shape, size, stride, dtype):
    rng = np.random.default_rng(10)
    x = rng.standard_normal(shape).astype(dtype)
    before = x.copy()
    out, cache = pool.avg_pool_forward(x, size, stride)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = pool.avg_pool_backward(dout, cache)
    assert out.dtype == dx.dtype == dtype
    np.testing.assert_array_equal(x, before)
    expected_out, expected_dx = avg_pool_loops(x, dout, size, stride)
    np.testing.assert_allclose(out, expected_out, **TOLERANCE[dtype])
    np.testing.assert_allclose(dx, expected_dx, **TOLERANCE[dtype])


@pytest.mark.parametrize("shape, size, stride", POOL_SETTINGS)
def test_avg_pool_backward_is_the_adjoint_of_forward(shape, size, stride):
    """<avg_pool(x), g> = <x, avg_pool_backward(g)>: forward is linear, backward its transpose."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal(shape)
    out, cache = pool.avg_pool_forward(x, size, stride)
    g = rng.standard_normal(out.shape)
    np.testing.assert_allclose(np.sum(out * g), np.sum(x * pool.avg_pool_backward(g, cache)))


@pytest.mark.parametrize("shape, size, stride", POOL_SETTINGS[::4])
def test_avg_pool_backward_matches_numerical_gradients(shape, size, stride):
    rng = np.random.default_rng(12)
    x = rng.standard_normal(shape)
    out, cache = pool.avg_pool_forward(x, size, stride)
    dout = rng.standard_normal(out.shape)
    numeric = numerical_gradient(lambda v: pool.avg_pool_forward(v, size, stride)[0], x, dout)
    expect_gradient(pool.avg_pool_backward(dout, cache), numeric, "avg_pool_backward dx")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(2, 3, 7, 6), (1, 1, 1, 1), (3, 2, 1, 9)])
def test_global_avg_pool_matches_its_definition(shape, dtype):
    rng = np.random.default_rng(13)
    x = rng.standard_normal(shape).astype(dtype)
    before = x.copy()
    out, cache = pool.global_avg_pool_forward(x)
    dout = rng.standard_normal(shape[:2]).astype(dtype)
    dx = pool.global_avg_pool_backward(dout, cache)
    assert out.dtype == dx.dtype == dtype
    np.testing.assert_array_equal(x, before)
    area = shape[2] * shape[3]
    np.testing.assert_allclose(out, x.astype(np.float64).sum(axis=(2, 3)) / area,
                               **TOLERANCE[dtype])
    expected_dx = np.broadcast_to(dout[..., None, None] / np.float64(area), shape)
    np.testing.assert_allclose(dx, expected_dx, **TOLERANCE[dtype])
    numeric = numerical_gradient(lambda v: pool.global_avg_pool_forward(v)[0], x, dout)
    expect_gradient(dx.astype(np.float64), numeric, "global_avg_pool_backward dx")


@pytest.mark.parametrize("layer, forward, backward", [
    (lambda: blocks.AvgPool2D(3, stride=2), lambda x: pool.avg_pool_forward(x, 3, 2),
     pool.avg_pool_backward),
    (blocks.GlobalAvgPool2D, pool.global_avg_pool_forward, pool.global_avg_pool_backward),
], ids=["AvgPool2D", "GlobalAvgPool2D"])
def test_pool_layers_compute_the_contract_functions(layer, forward, backward):
    rng = np.random.default_rng(14)
    x = rng.standard_normal((2, 3, 7, 8)).astype(np.float32)
    pooling = layer()
    out = pooling.forward(x)
    expected, cache = forward(x)
    np.testing.assert_array_equal(out, expected)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    np.testing.assert_array_equal(pooling.backward(dout), backward(dout, cache))
    assert pooling.params == pooling.grads == {}


@pytest.mark.parametrize("call, message", [
    (lambda: pool.avg_pool_forward(np.zeros((3, 28, 28))),
     r"x must be 4-D \(N, C, H, W\) \(got shape \(3, 28, 28\)\)"),
    (lambda: pool.avg_pool_forward(np.zeros((1, 1, 4, 4), dtype=np.int64)),
     r"x must have a floating dtype \(got int64\)"),
    (lambda: pool.avg_pool_forward(np.zeros((1, 1, 2, 5)), size=3),
     r"H with padding 0 is 2, smaller than the kernel size 3"),
    (lambda: pool.avg_pool_forward(np.zeros((1, 1, 4, 4)), stride=0),
     r"stride must be >= 1 \(got 0\)"),
    (lambda: pool.avg_pool_backward(np.zeros((1, 1, 3, 3)),
                                    pool.avg_pool_forward(np.zeros((1, 1, 4, 4)))[1]),
     r"dout must have shape \(1, 1, 2, 2\) \(got shape \(1, 1, 3, 3\)\)"),
    (lambda: pool.global_avg_pool_forward(np.zeros((2, 3))),
     r"x must be 4-D \(N, C, H, W\) \(got shape \(2, 3\)\)"),
    (lambda: pool.global_avg_pool_backward(np.zeros((2, 4)),
                                           pool.global_avg_pool_forward(np.zeros((2, 3, 4, 4)))[1]),
     r"dout must have shape \(2, 3\) \(got shape \(2, 4\)\)"),
    (lambda: pool.global_avg_pool_backward(np.zeros((2, 3, 1, 1)),
                                           pool.global_avg_pool_forward(np.zeros((2, 3, 4, 4)))[1]),
     r"dout must be 2-D \(N, C\) \(got shape \(2, 3, 1, 1\)\)"),
    (lambda: blocks.AvgPool2D(size=0), r"size must be >= 1 \(got 0\)"),
])
def test_bad_pool_arguments_are_named_in_the_error(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


GUIDE_LAYERS = [("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1)]


def random_stack(rng, depth):
    """`depth` random (kind, kernel, stride) layers, kernels 1-5, strides 1-3."""
    return [(str(rng.choice(["conv", "pool"])), int(rng.integers(1, 6)), int(rng.integers(1, 4)))
            for _ in range(depth)]


def top_down(layers):
    """The receptive field of one unit of the last layer, by the recursion from the top down:
    r <- (r - 1) * stride + kernel, one layer at a time towards the input."""
    size = 1
    for _, kernel, stride in reversed(layers):
        size = (size - 1) * stride + kernel
    return size


def gradient_reach(layers):
    """The side of the input square that the gradient of one top-left output unit reaches,
    through the reference's layers: convs of ones and average pools (positive weights, so
    nothing cancels). The input is a few pixels larger than one unit needs, so the gradient
    could reach too far or too short."""
    side = top_down(layers) + 5
    x, backwards = np.ones((1, 1, side, side)), []
    for kind, kernel, stride in layers:
        if kind == "conv":
            x, cache = conv.conv2d_forward(x, np.ones((1, 1, kernel, kernel)), np.zeros(1), stride)
            backwards.append(lambda dout, cache=cache: conv.conv2d_backward(dout, cache)[0])
        else:
            x, cache = pool.avg_pool_forward(x, kernel, stride)
            backwards.append(lambda dout, cache=cache: pool.avg_pool_backward(dout, cache))
    grad = np.zeros_like(x)
    grad[0, 0, 0, 0] = 1
    for backward in reversed(backwards):
        grad = backward(grad)
    return int(np.flatnonzero(grad[0, 0].any(axis=1))[-1]) + 1


@pytest.mark.parametrize("seed", range(6))
def test_receptive_field_is_where_the_gradient_reaches(seed):
    layers = random_stack(np.random.default_rng(seed), 4)
    assert model.receptive_field(layers) == [gradient_reach(layers[:i + 1])
                                             for i in range(len(layers))]


@pytest.mark.parametrize("seed", range(20))
def test_receptive_field_matches_the_top_down_recursion(seed):
    layers = random_stack(np.random.default_rng(100 + seed), 7)
    sizes = model.receptive_field(layers)
    assert type(sizes) is list and all(type(r) is int for r in sizes)
    assert sizes == [top_down(layers[:i + 1]) for i in range(len(layers))]


def test_receptive_field_of_the_guide_and_of_nothing():
    assert model.receptive_field(GUIDE_LAYERS) == [3, 4, 8, 10, 18]
    assert model.receptive_field(tuple(map(list, GUIDE_LAYERS))) == [3, 4, 8, 10, 18]
    assert model.receptive_field([]) == []


@pytest.mark.parametrize("layers, error, message", [
    ("conv", TypeError, r"layers must be a list of \(kind, kernel, stride\) \(got str\)"),
    ([("conv", 3, 1), ("dense", 3, 1)], ValueError,
     r"layers\[1\] must be \(kind, kernel, stride\) with kind 'conv' or 'pool' "
     r"\(got kind 'dense'\)"),
    ([("conv", 3)], ValueError, r"layers\[0\] must be \(kind, kernel, stride\) "
                                r"\(got \('conv', 3\)\)"),
    ([("pool", 0, 2)], ValueError, r"layers\[0\] kernel must be >= 1 \(got 0\)"),
    ([("pool", 2, -1)], ValueError, r"layers\[0\] stride must be >= 1 \(got -1\)"),
    ([("conv", 3.0, 1)], TypeError, r"layers\[0\] kernel must be an int \(got float 3.0\)"),
])
def test_bad_receptive_field_layers_are_named_in_the_error(layers, error, message):
    with pytest.raises(error, match=message):
        model.receptive_field(layers)
