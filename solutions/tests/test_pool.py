"""Public tests of scratchcnn/pool.py: Phases 4 (max-pool forward) and 5 (backward)."""

import numpy as np
import pytest
from helpers import assert_close, assert_gradient, distinct_values, needs, numerical_gradient

from scratchcnn.pool import max_pool_backward, max_pool_forward

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


@pytest.mark.phase4
@pytest.mark.parametrize("shape, size, stride", [((2, 3, 7, 6), 3, 2), ((1, 2, 5, 8), 2, 3)])
def test_output_shape_and_channels_independent(shape, size, stride):
    x = np.random.default_rng(0).standard_normal(shape)
    out, _ = max_pool_forward(x, size=size, stride=stride)
    Ho, Wo = (shape[2] - size) // stride + 1, (shape[3] - size) // stride + 1
    assert out.shape == (*shape[:2], Ho, Wo), (
        f"max_pool_forward(x {shape}, size={size}, stride={stride}): expected shape "
        f"{(*shape[:2], Ho, Wo)}, got {out.shape}")
    top, left = (Ho - 1) * stride, (Wo - 1) * stride  # the last window of the last image/channel
    last = x[-1, -1, top:top + size, left:left + size]
    assert_close(out[-1, -1, -1, -1], last.max(), f"max_pool_forward(x {shape}) last window")


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
def test_overlapping_windows_sum():
    """Stride 1: the 9 in the centre is the maximum of all four 2x2 windows."""
    _, cache = needs(max_pool_forward, image([[1, 2, 3], [4, 9, 5], [6, 7, 8]]), 2, 1)
    dx = max_pool_backward(np.ones((1, 1, 2, 2)), cache)
    assert_close(dx, image([[0, 0, 0], [0, 4, 0], [0, 0, 0]]),
                 "max_pool_backward(size=2, stride=1) dx")


@pytest.mark.phase5
@pytest.mark.parametrize("shape, size, stride", [
    ((2, 3, 6, 6), 2, 2), ((2, 2, 7, 6), 3, 2), ((1, 2, 5, 7), 2, 1), ((1, 1, 8, 7), 2, 3)])
def test_numerical_gradient(shape, size, stride):
    rng = np.random.default_rng(2)
    x = distinct_values(rng, shape)
    out, cache = needs(max_pool_forward, x, size, stride)
    dout = rng.standard_normal(out.shape)
    dx = max_pool_backward(dout, cache)
    numeric = numerical_gradient(lambda v: max_pool_forward(v, size, stride)[0], x, dout)
    assert_gradient(dx, numeric, f"dx (x {shape}, size={size}, stride={stride})")
