"""Max pooling: forward (Phase 4) and backward (Phase 5); average pooling (bonus Phase 10).

Conventions:
    x    (N, C, H, W)
    out  (N, C, Ho, Wo)   Ho = (H - size)//stride + 1, Wo likewise (valid windows only, no padding)

Each window of the backward pass sends its gradient to one position only: the first maximum in
row-major order within the window (PyTorch's rule). Overlapping windows (stride < size) sum
their contributions.

Average pooling (Phase 10) takes the mean of each window; its backward spreads each window's
gradient evenly over the window's size*size positions, overlapping windows again summing. Global
average pooling averages each channel over all of H, W: (N, C, H, W) -> (N, C).

Rules the grader enforces for every function and method you write here (its hidden tests check
them): an output has the dtype of the input it comes from (float32 in, float32 out); inputs
(x, w, b, dout, caches) are never modified in place; a cache is opaque, only passed back to
the matching backward.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._checks import check_float_array, check_shape, check_window_args


def max_pool_forward(x, size=2, stride=2):
    """Phase 4: the maximum of every size x size window.

    Args:
        x: (N, C, H, W), floating dtype.
        size: window height and width (int >= 1).
        stride: step between windows (int >= 1).
    Returns:
        out: (N, C, Ho, Wo), dtype of x.
        cache: opaque; pass it to max_pool_backward.
    """
    check_float_array("x", x, 4, "(N, C, H, W)")
    check_window_args(x.shape, size, size, stride, 0)
    raise NotImplementedError('Phase 4 (max-pool forward): implement max_pool_forward in scratchcnn/pool.py')


def max_pool_backward(dout, cache):
    """Phase 5: route each window's gradient to the position of its (first) maximum.

    Args:
        dout: (N, C, Ho, Wo), dL/dout.
        cache: from max_pool_forward.
    Returns:
        dx: (N, C, H, W), dL/dx, dtype of dout.
    """
    check_float_array("dout", dout, 4, "(N, C, Ho, Wo)")
    raise NotImplementedError('Phase 5 (max-pool backward): implement max_pool_backward in scratchcnn/pool.py')


def avg_pool_forward(x, size=2, stride=2):
    """Phase 10: the mean of every size x size window.

    Args:
        x: (N, C, H, W), floating dtype.
        size: window height and width (int >= 1).
        stride: step between windows (int >= 1).
    Returns:
        out: (N, C, Ho, Wo), dtype of x.
        cache: opaque; pass it to avg_pool_backward.
    """
    check_float_array("x", x, 4, "(N, C, H, W)")
    check_window_args(x.shape, size, size, stride, 0)
    raise NotImplementedError('Phase 10 (average and global average pooling): implement avg_pool_forward in scratchcnn/pool.py')


def avg_pool_backward(dout, cache):
    """Phase 10: spread each window's gradient evenly, dout / size**2 to each of its positions.

    Args:
        dout: (N, C, Ho, Wo), dL/dout.
        cache: from avg_pool_forward.
    Returns:
        dx: (N, C, H, W), dL/dx, dtype of dout. Where windows overlap (stride < size), a
        position gets the sum of the shares of every window it lies in.
    """
    check_float_array("dout", dout, 4, "(N, C, Ho, Wo)")
    raise NotImplementedError('Phase 10 (average and global average pooling): implement avg_pool_backward in scratchcnn/pool.py')


def global_avg_pool_forward(x):
    """Phase 10: the mean of each channel over all of its H x W positions.

    Args:
        x: (N, C, H, W), floating dtype.
    Returns:
        out: (N, C), dtype of x.
        cache: opaque; pass it to global_avg_pool_backward.
    """
    check_float_array("x", x, 4, "(N, C, H, W)")
    raise NotImplementedError('Phase 10 (average and global average pooling): implement global_avg_pool_forward in scratchcnn/pool.py')


def global_avg_pool_backward(dout, cache):
    """Phase 10: every position of channel c of image n gets dout[n, c] / (H*W).

    Args:
        dout: (N, C), dL/dout.
        cache: from global_avg_pool_forward.
    Returns:
        dx: (N, C, H, W), dL/dx, dtype of dout.
    """
    check_float_array("dout", dout, 2, "(N, C)")
    raise NotImplementedError('Phase 10 (average and global average pooling): implement global_avg_pool_backward in scratchcnn/pool.py')
