"""The reference implementation (solutions/scratchcnn) beyond the public tests.

Vectorised where the contract says so; equal to the naive loops and to numerical gradients in
float64 and float32 over strides 1-3, padding 0-2, rectangular kernels and non-square inputs;
inputs untouched; clear errors for bad arguments.
"""

import ast
import inspect
import itertools

import numpy as np
import pytest
from scratchcnn import conv, layers, pool

from cnnkit.autograder.suites.common import expect_gradient, numerical_gradient
from cnnkit.paths import KIT_ROOT

SHAPES = [((2, 3, 7, 6), (4, 3, 3, 2)), ((3, 2, 9, 11), (2, 2, 2, 3)), ((1, 1, 5, 5), (1, 1, 1, 1))]
SETTINGS = list(itertools.product(SHAPES, (1, 2, 3), (0, 1, 2)))
TOLERANCE = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=1e-4, atol=1e-4)}


def loops_in(function):
    """The `for`/`while` loops of a function, as (target, iterable) source strings."""
    tree = ast.parse(inspect.getsource(function).lstrip())
    return [(ast.unparse(node.target), ast.unparse(node.iter)) if isinstance(node, ast.For)
            else ("while", ast.unparse(node.test))
            for node in ast.walk(tree) if isinstance(node, (ast.For, ast.While))]


KERNEL_OFFSETS = [("i", "range(kh)"), ("j", "range(kw)")]


@pytest.mark.parametrize("function, loops", [
    (conv.im2col, []), (conv.conv2d_forward, []),
    # col2im: one whole-array add per kernel offset (kh*kw of them)
    (conv.col2im, KERNEL_OFFSETS), (conv.conv2d_backward, KERNEL_OFFSETS),
    # one whole-array op per window offset (size*size of them): the views, the masks
    (pool.max_pool_forward, [("view", "views[1:]"), ("view", "views[:-1]")]),
    (pool.max_pool_backward, [("((rows, cols), mask)", "zip(offsets, masks)")]),
])
def test_vectorised_functions_loop_only_over_offsets(function, loops):
    """No Python loop over images, channels or output positions."""
    assert loops_in(function) == loops


def random_conv(seed, x_shape, w_shape, dtype):
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal(s).astype(dtype) for s in (x_shape, w_shape, w_shape[:1]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shapes, stride, padding", SETTINGS)
def test_conv2d_forward_matches_naive(shapes, stride, padding, dtype):
    x, w, b = random_conv(0, *shapes, dtype)
    expected = conv.conv2d_forward_naive(x.astype(np.float64), w.astype(np.float64),
                                         b.astype(np.float64), stride, padding)
    out, _ = conv.conv2d_forward(x, w, b, stride=stride, padding=padding)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, expected, **TOLERANCE[dtype])


@pytest.mark.parametrize("shapes, stride, padding", SETTINGS)
def test_im2col_matches_its_definition(shapes, stride, padding):
    x, w, _ = random_conv(1, *shapes, np.float64)
    N, C, H, W = x.shape
    kh, kw = w.shape[2:]
    cols = conv.im2col(x, kh, kw, stride, padding)
    xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    Ho, Wo = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
    expected = np.empty((C * kh * kw, N * Ho * Wo))
    for n, c, i, j, oh, ow in itertools.product(*map(range, (N, C, kh, kw, Ho, Wo))):
        expected[c * kh * kw + i * kw + j, n * Ho * Wo + oh * Wo + ow] = \
            xpad[n, c, oh * stride + i, ow * stride + j]
    np.testing.assert_array_equal(cols, expected)


@pytest.mark.parametrize("shapes, stride, padding", SETTINGS)
def test_col2im_is_the_adjoint_of_im2col(shapes, stride, padding):
    x, w, _ = random_conv(2, *shapes, np.float64)
    cols = conv.im2col(x, *w.shape[2:], stride, padding)
    u = np.random.default_rng(3).standard_normal(cols.shape)
    np.testing.assert_allclose(np.sum(cols * u),
                               np.sum(x * conv.col2im(u, x.shape, *w.shape[2:], stride, padding)))


@pytest.mark.parametrize("shapes, stride, padding", SETTINGS[::2])
def test_conv2d_backward_matches_numerical_gradients(shapes, stride, padding):
    x, w, b = random_conv(4, *shapes, np.float64)
    out, cache = conv.conv2d_forward(x, w, b, stride, padding)
    dout = np.random.default_rng(5).standard_normal(out.shape)
    forwards = {"dx": lambda v: conv.conv2d_forward(v, w, b, stride, padding)[0],
                "dw": lambda v: conv.conv2d_forward(x, v, b, stride, padding)[0],
                "db": lambda v: conv.conv2d_forward(x, w, v, stride, padding)[0]}
    for analytic, (name, forward), at in zip(conv.conv2d_backward(dout, cache), forwards.items(),
                                             (x, w, b)):
        expect_gradient(analytic, numerical_gradient(forward, at, dout), name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv2d_backward_float32_agrees_with_float64(dtype):
    x, w, b = random_conv(6, (4, 3, 10, 9), (5, 3, 3, 2), np.float64)
    out, cache64 = conv.conv2d_forward(x, w, b, 2, 1)
    dout = np.random.default_rng(7).standard_normal(out.shape)
    _, cache = conv.conv2d_forward(x.astype(dtype), w.astype(dtype), b.astype(dtype), 2, 1)
    for got, expected in zip(conv.conv2d_backward(dout.astype(dtype), cache),
                             conv.conv2d_backward(dout, cache64)):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, expected, **TOLERANCE[dtype])


def max_pool_backward_loops(x, dout, size, stride):
    """The definition: each window's gradient to its first maximum, summed over windows."""
    dx = np.zeros_like(x)
    N, C, Ho, Wo = dout.shape
    for n, c, oh, ow in itertools.product(range(N), range(C), range(Ho), range(Wo)):
        window = x[n, c, oh * stride:oh * stride + size, ow * stride:ow * stride + size]
        i, j = np.unravel_index(np.argmax(window), window.shape)
        dx[n, c, oh * stride + i, ow * stride + j] += dout[n, c, oh, ow]
    return dx


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, size, stride", [
    ((2, 3, 8, 8), 2, 2), ((2, 3, 7, 9), 3, 2), ((2, 2, 6, 7), 2, 1), ((1, 2, 9, 8), 2, 3),
    ((3, 2, 7, 7), 3, 1), ((1, 1, 5, 6), 1, 1),
    ((1, 2, 6, 140), 3, 3)])  # wide: the first-maximum priorities no longer fit in a byte
def test_max_pool_matches_loops_with_ties(shape, size, stride, dtype):
    rng = np.random.default_rng(8)
    x = rng.integers(0, 4, shape).astype(dtype)  # plenty of ties and plateaus
    before = x.copy()
    out, cache = pool.max_pool_forward(x, size, stride)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = pool.max_pool_backward(dout, cache)
    assert out.dtype == dx.dtype == dtype
    np.testing.assert_array_equal(x, before)
    windows = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(2, 3))
    np.testing.assert_array_equal(out, windows[:, :, ::stride, ::stride].max(axis=(4, 5)))
    np.testing.assert_allclose(dx, max_pool_backward_loops(x, dout, size, stride),
                               **TOLERANCE[dtype])


def test_max_pool_gives_a_nan_window_one_position():
    x = np.array([[[[1.0, np.nan], [3.0, 2.0]]]])
    out, cache = pool.max_pool_forward(x)
    dx = pool.max_pool_backward(np.ones_like(out), cache)
    assert np.isnan(out).all() and np.count_nonzero(dx) == 1, dx


def test_flatten_backward_keeps_the_memory_order_of_its_input():
    # The reference's pool hands on channels-last memory; a gradient in that order keeps the
    # ReLU and pool backward below on matching orders (several times faster than mixed ones).
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 4, 5, 3).transpose(0, 3, 1, 2)
    out, cache = layers.flatten_forward(x)
    dx = layers.flatten_backward(out, cache)
    np.testing.assert_array_equal(dx, x)
    assert dx.strides == x.strides, (dx.strides, x.strides)


@pytest.mark.parametrize("call, message", [
    (lambda: conv.conv2d_forward(np.zeros((3, 28, 28)), np.zeros((1, 3, 3, 3)), np.zeros(1)),
     r"x must be 4-D \(N, C, H, W\) \(got shape \(3, 28, 28\)\)"),
    (lambda: conv.conv2d_forward(np.zeros((1, 2, 5, 5)), np.zeros((1, 3, 3, 3)), np.zeros(1)),
     r"w must have C = 2 input channels like x \(got w shape \(1, 3, 3, 3\)"),
    (lambda: conv.conv2d_forward(np.zeros((1, 1, 5, 5)), np.zeros((2, 1, 3, 3)), np.zeros(3)),
     r"b must have shape \(2,\) \(got shape \(3,\)\)"),
    (lambda: conv.im2col(np.zeros((1, 1, 2, 2)), 3, 3),
     r"H with padding 0 is 2, smaller than the kernel size 3"),
    (lambda: conv.im2col(np.zeros((1, 1, 4, 4)), 2, 2, stride=0), r"stride must be >= 1 \(got 0\)"),
    (lambda: conv.im2col(np.zeros((1, 1, 4, 4)), 2, 2, padding=1.5),
     r"padding must be an int \(got float 1.5\)"),
    (lambda: pool.max_pool_forward(np.zeros((1, 1, 4, 4), dtype=np.int64)),
     r"x must have a floating dtype \(got int64\)"),
    (lambda: pool.max_pool_backward(np.zeros((1, 1, 3, 3)),
                                    pool.max_pool_forward(np.zeros((1, 1, 4, 4)))[1]),
     r"dout must have shape \(1, 1, 2, 2\) \(got shape \(1, 1, 3, 3\)\)"),
    (lambda: layers.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3])),
     r"y must be in 0..2 \(got 0..3\)"),
])
def test_bad_arguments_are_named_in_the_error(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_reference_imports_only_numpy():
    for path in (KIT_ROOT / "solutions" / "scratchcnn").glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.level == 0}
        assert imported <= {"numpy"}, f"{path.name} imports {imported - {'numpy'}}"
