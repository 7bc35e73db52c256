"""Public tests of scratchcnn/pool.py: Phases 4 (max-pool forward), 5 (backward) and bonus
Phase 10 (average and global average pooling)."""

import numpy as np
import pytest
from helpers import (
    assert_close, assert_gradient, distinct_values, needs, numerical_gradient, stale_memory,
)

from scratchcnn.layers import Dense, Flatten
from scratchcnn.pool import (
    avg_pool_backward, avg_pool_forward, global_avg_pool_backward, global_avg_pool_forward,
    max_pool_backward, max_pool_forward,
)

# The guide's 4x4 examples, worked by hand.
GUIDE_A = [[1, 2, 5, 3], [6, 4, 8, 1], [2, 7, 3, 9], [1, 5, 4, 2]]
GUIDE_B = [[10, 12, 8, 7], [4, 11, 5, 9], [18, 13, 7, 7], [3, 15, 2, 2]]
ONE_TO_16 = np.arange(1, 17).reshape(4, 4)


def image(rows):
    return np.asarray(rows, dtype=np.float64)[None, None]


@pytest.mark.phase4
@pytest.mark.parametrize("rows, stride, expected", [
    (GUIDE_A, 2, [[6, 8], [7, 9]]),
    (GUIDE_B, 2, [[12, 9], [18, 7]]),
    (GUIDE_B, 1, [[12, 12, 9], [18, 13, 9], [18, 15, 7]]),
    (ONE_TO_16, 2, [[6, 8], [14, 16]]),
], ids=["guide-a", "guide-b-stride2", "guide-b-stride1", "1-to-16"])
def test_guide_examples(rows, stride, expected):
    out, _ = max_pool_forward(image(rows), size=2, stride=stride)
    assert_close(out, image(expected), f"max_pool_forward({np.asarray(rows).tolist()}, size=2, "
                                       f"stride={stride}) out")


@pytest.mark.parametrize("forward, reduce", [
    pytest.param(max_pool_forward, np.max, marks=pytest.mark.phase4, id="max"),
    pytest.param(avg_pool_forward, np.mean, marks=pytest.mark.phase10, id="avg")])
@pytest.mark.parametrize("shape, size, stride", [((2, 3, 7, 6), 3, 2), ((1, 2, 5, 8), 2, 3)])
def test_output_shape_and_channels_independent(shape, size, stride, forward, reduce):
    x = np.random.default_rng(0).standard_normal(shape)
    out, _ = forward(x, size=size, stride=stride)
    Ho, Wo = (shape[2] - size) // stride + 1, (shape[3] - size) // stride + 1
    assert out.shape == (*shape[:2], Ho, Wo), (
        f"{forward.__name__}(x {shape}, size={size}, stride={stride}): expected shape "
        f"{(*shape[:2], Ho, Wo)}, got {out.shape}")
    top, left = (Ho - 1) * stride, (Wo - 1) * stride  # the last window of the last image/channel
    last = x[-1, -1, top:top + size, left:left + size]
    assert_close(out[-1, -1, -1, -1], reduce(last), f"{forward.__name__}(x {shape}) last window")


REGIMES = {  # the kinds of values a max-pool must handle: name -> (rng, shape) -> values
    "mixed signs": lambda rng, shape: rng.standard_normal(shape),
    "all-negative windows": lambda rng, shape: -rng.uniform(0.5, 5.0, shape),
    "ties and plateaus": lambda rng, shape: rng.integers(-2, 2, shape).astype(np.float64),
    "large magnitudes": lambda rng, shape: rng.standard_normal(shape) * 1e12,
    "tiny magnitudes": lambda rng, shape: rng.standard_normal(shape) * 1e-12,
}


@pytest.mark.phase4
@pytest.mark.parametrize("regime", REGIMES)
@pytest.mark.parametrize("shape, size, stride", [((2, 3, 6, 7), 2, 2), ((1, 1, 7, 5), 3, 2),
                                                 ((2, 2, 5, 6), 2, 1), ((1, 2, 8, 7), 2, 3)])
def test_every_window_in_every_regime(shape, size, stride, regime):
    """Each output is its window's maximum, whatever the values: negative, tied, huge, tiny."""
    x = REGIMES[regime](np.random.default_rng(9), shape)
    out, _ = max_pool_forward(x, size=size, stride=stride)
    Ho, Wo = (shape[2] - size) // stride + 1, (shape[3] - size) // stride + 1
    expected = np.empty((*shape[:2], Ho, Wo))
    for oh in range(Ho):
        for ow in range(Wo):
            window = x[:, :, oh * stride:oh * stride + size, ow * stride:ow * stride + size]
            expected[:, :, oh, ow] = window.max(axis=(2, 3))
    assert_close(out, expected, f"max_pool_forward(x {shape} {regime}, size={size}, "
                                f"stride={stride}) out", rtol=0, atol=0)


@pytest.mark.phase4
def test_forward_keeps_float32_and_input():
    x = np.random.default_rng(1).standard_normal((2, 2, 4, 4)).astype(np.float32)
    before = x.copy()
    out, _ = max_pool_forward(x)
    assert out.dtype == np.float32, "float32 in must give float32 out"
    assert np.array_equal(x, before), "max_pool_forward must not modify x"


@pytest.mark.phase5
def test_guide_routing_example():
    """[[1, 4], [2, 3]] pooled to 4; dL/dout = 0.5 goes to the 4 and nowhere else."""
    _, cache = needs(max_pool_forward, image([[1, 4], [2, 3]]))
    dx = max_pool_backward(np.full((1, 1, 1, 1), 0.5), cache)
    assert_close(dx, image([[0, 0.5], [0, 0]]), "max_pool_backward([[1, 4], [2, 3]], 0.5) dx")


@pytest.mark.phase5
def test_ties_go_to_the_first_maximum():
    _, cache = needs(max_pool_forward, image([[5, 5], [5, 5]]))
    dx = max_pool_backward(np.ones((1, 1, 1, 1)), cache)
    assert_close(dx, image([[1, 0], [0, 0]]), "max_pool_backward on a window of ties dx")


@pytest.mark.phase5
@pytest.mark.parametrize("H, W", [(7, 6), (6, 5)])
def test_pixels_outside_every_window_get_zero(H, W):
    """Size 2, stride 2 on an odd height or width: the last row or column is in no window, and
    its dx is 0."""
    x = distinct_values(np.random.default_rng(4), (2, 3, H, W))
    _, cache = needs(max_pool_forward, x, 2, 2)
    stale_memory(x.nbytes)  # dx must be zeroed, not taken as np.empty left it
    dx = max_pool_backward(np.ones((2, 3, H // 2, W // 2)), cache)
    what = f"max_pool_backward(x (2, 3, {H}, {W}), size=2, stride=2) dx"
    assert_close(dx[:, :, 2 * (H // 2):], np.zeros((2, 3, H % 2, W)), f"{what}, last row")
    assert_close(dx[:, :, :, 2 * (W // 2):], np.zeros((2, 3, H, W % 2)), f"{what}, last column")
    assert_close(dx.sum(axis=(2, 3)), np.full((2, 3), (H // 2) * (W // 2)), f"{what}, sum per map")


@pytest.mark.phase5
def test_overlapping_windows_sum():
    """Stride 1: the 9 in the centre is the maximum of all four 2x2 windows."""
    _, cache = needs(max_pool_forward, image([[1, 2, 3], [4, 9, 5], [6, 7, 8]]), 2, 1)
    dx = max_pool_backward(np.ones((1, 1, 2, 2)), cache)
    assert_close(dx, image([[0, 0, 0], [0, 4, 0], [0, 0, 0]]),
                 "max_pool_backward(size=2, stride=1) dx")


def earlier_max_pool_forward(*args):
    """max_pool_forward, for Phase 5's tests: Phase 4's, so skip them if it is not started."""
    return needs(max_pool_forward, *args)


@pytest.mark.parametrize("forward, backward", [
    pytest.param(earlier_max_pool_forward, max_pool_backward, marks=pytest.mark.phase5, id="max"),
    pytest.param(avg_pool_forward, avg_pool_backward, marks=pytest.mark.phase10, id="avg")])
@pytest.mark.parametrize("shape, size, stride", [
    ((2, 3, 6, 6), 2, 2), ((2, 2, 7, 6), 3, 2), ((1, 2, 5, 7), 2, 1), ((1, 1, 8, 7), 2, 3)])
def test_numerical_gradient(shape, size, stride, forward, backward):
    rng = np.random.default_rng(2)
    x = distinct_values(rng, shape)
    out, cache = forward(x, size, stride)
    dout = rng.standard_normal(out.shape)
    dx = backward(dout, cache)
    numeric = numerical_gradient(lambda v: forward(v, size, stride)[0], x, dout)
    assert_gradient(dx, numeric,
                    f"{backward.__name__} dx (x {shape}, size={size}, stride={stride})")


@pytest.mark.phase10
@pytest.mark.parametrize("stride, expected", [
    (2, [[3.5, 5.5], [11.5, 13.5]]),  # (1+2+5+6)/4 = 3.5, (3+4+7+8)/4 = 5.5, ...
    (1, [[3.5, 4.5, 5.5], [7.5, 8.5, 9.5], [11.5, 12.5, 13.5]]),  # each step right adds 1
], ids=["stride2", "stride1"])
def test_avg_pool_1_to_16(stride, expected):
    out, _ = avg_pool_forward(image(ONE_TO_16), size=2, stride=stride)
    assert_close(out, image(expected), f"avg_pool_forward(1..16, size=2, stride={stride}) out")


@pytest.mark.phase10
def test_avg_pool_backward_spreads_a_quarter():
    """2x2/2 windows don't overlap: each of a window's 4 positions gets its dout / 4."""
    _, cache = avg_pool_forward(image(ONE_TO_16))
    dx = avg_pool_backward(image([[1, 2], [3, 4]]), cache)
    assert_close(dx, image([[0.25, 0.25, 0.5, 0.5], [0.25, 0.25, 0.5, 0.5],
                            [0.75, 0.75, 1, 1], [0.75, 0.75, 1, 1]]),
                 "avg_pool_backward(dout [[1, 2], [3, 4]], size=2, stride=2) dx")


@pytest.mark.phase10
def test_avg_pool_backward_overlapping_windows_sum():
    """2x2 windows at stride 1 on 4x4, dout all ones: a corner lies in 1 window (1/4), an edge
    position in 2 (2/4), a centre position in 4 (4/4)."""
    _, cache = avg_pool_forward(image(ONE_TO_16), 2, 1)
    dx = avg_pool_backward(np.ones((1, 1, 3, 3)), cache)
    assert_close(dx, image([[0.25, 0.5, 0.5, 0.25], [0.5, 1, 1, 0.5],
                            [0.5, 1, 1, 0.5], [0.25, 0.5, 0.5, 0.25]]),
                 "avg_pool_backward(dout ones, size=2, stride=1) dx")


@pytest.mark.phase10
def test_global_avg_pool_1_to_16():
    """The mean of 1..16 is 8.5; dL/dout = 2 gives each of the 16 positions 2/16 = 0.125."""
    out, cache = global_avg_pool_forward(image(ONE_TO_16))
    assert_close(out, [[8.5]], "global_avg_pool_forward(1..16) out")
    dx = global_avg_pool_backward(np.full((1, 1), 2.0), cache)
    assert_close(dx, np.full((1, 1, 4, 4), 0.125), "global_avg_pool_backward(dout 2) dx")


@pytest.mark.phase10
def test_global_avg_pool_numerical_gradient():
    rng = np.random.default_rng(5)
    x, dout = rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((2, 3))
    out, cache = global_avg_pool_forward(x)
    assert_close(out, x.mean(axis=(2, 3)), "global_avg_pool_forward(x (2, 3, 5, 4)) out")
    numeric = numerical_gradient(lambda v: global_avg_pool_forward(v)[0], x, dout)
    assert_gradient(global_avg_pool_backward(dout, cache), numeric, "dx (x (2, 3, 5, 4))")


@pytest.mark.phase10
@pytest.mark.parametrize("forward, backward", [
    (avg_pool_forward, avg_pool_backward),
    (global_avg_pool_forward, global_avg_pool_backward)], ids=["avg", "global"])
def test_avg_pools_keep_float32_and_input(forward, backward):
    x = np.random.default_rng(6).standard_normal((2, 2, 4, 4)).astype(np.float32)
    before = x.copy()
    out, cache = forward(x)
    assert out.dtype == np.float32, f"{forward.__name__}: float32 in must give float32 out"
    assert np.array_equal(x, before), f"{forward.__name__} must not modify x"
    dx = backward(np.ones_like(out), cache)
    assert dx.dtype == np.float32, f"{backward.__name__}: float32 dout must give float32 dx"


@pytest.mark.phase10
def test_global_pooling_head_needs_far_fewer_parameters():
    """The guide's head after its last pool, (N, 64, 5, 5): Flatten + Dense(1600 -> 128) holds
    1600*128 + 128 = 204,928 parameters; global average pooling + Dense(64 -> 10) holds
    64*10 + 10 = 650."""
    from scratchcnn.blocks import GlobalAvgPool2D  # here: a broken blocks.py fails only this test

    features = np.random.default_rng(7).standard_normal((2, 64, 5, 5))
    flattened = needs(Flatten().forward, features)
    pooled = GlobalAvgPool2D().forward(features)
    assert pooled.shape == (2, 64), f"GlobalAvgPool2D: expected shape (2, 64), got {pooled.shape}"
    for head, expected in [(Dense(flattened.shape[1], 128), 204_928),
                           (Dense(pooled.shape[1], 10), 650)]:
        count = sum(p.size for p in head.params.values())
        assert count == expected, f"{head!r}: expected {expected:,} parameters, got {count:,}"
