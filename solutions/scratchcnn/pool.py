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
    ### BEGIN SOLUTION
    N, C = x.shape[:2]
    k = size * size
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    Ho, Wo = windows.shape[2:4]
    # One copy puts the k offsets of every window on a leading axis, (k, N, C, Ho, Wo): the
    # max and the argmax below are then elementwise ops over long rows, where an argmax over a
    # trailing axis of length k would call a tiny loop once per window.
    by_offset = windows.transpose(4, 5, 0, 1, 2, 3).reshape(k, N, C, Ho, Wo)
    out = by_offset.max(axis=0)
    # The first maximum in row-major order: give offset o the priority k - o, keep the highest
    # priority among the offsets that hold the maximum (np.where or argmax here are far slower).
    priority = np.arange(k, 0, -1, dtype=np.min_scalar_type(k)).reshape(k, 1, 1, 1, 1)
    first = k - ((by_offset == out) * priority).max(axis=0)
    cache = (x.shape, first, size, stride)
    return out, cache
    ### END SOLUTION


def max_pool_backward(dout, cache):
    """Phase 5: route each window's gradient to the position of its (first) maximum.

    Args:
        dout: (N, C, Ho, Wo), dL/dout.
        cache: from max_pool_forward.
    Returns:
        dx: (N, C, H, W), dL/dx, dtype of dout.
    """
    check_float_array("dout", dout, 4, "(N, C, Ho, Wo)")
    ### BEGIN SOLUTION
    x_shape, first, size, stride = cache
    check_shape("dout", dout, first.shape)
    if stride >= size:
        # Windows don't overlap: each position of x is in at most one window, so the gradient
        # is written (not summed) through a writeable view of dx's windows, offsets first.
        dx = np.zeros(x_shape, dtype=dout.dtype)
        windows = sliding_window_view(dx, (size, size), axis=(2, 3), writeable=True)
        windows = windows[:, :, ::stride, ::stride].transpose(4, 5, 0, 1, 2, 3)
        offsets = np.arange(size * size, dtype=first.dtype).reshape(-1, 1, 1, 1, 1)
        is_first = (first == offsets).reshape(windows.shape)  # (size, size, N, C, Ho, Wo)
        np.multiply(is_first, dout, out=windows)
        return dx
    # Overlapping windows may share a maximum: bincount sums their contributions.
    N, C, H, W = x_shape
    Ho, Wo = first.shape[2:]
    row = np.arange(Ho)[:, None] * stride + first // size
    col = np.arange(Wo)[None, :] * stride + first % size
    plane = np.arange(N * C).reshape(N, C, 1, 1) * (H * W)
    flat_index = (plane + row * W + col).ravel()
    dx = np.bincount(flat_index, weights=dout.ravel(), minlength=N * C * H * W)
    return dx.reshape(x_shape).astype(dout.dtype)
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    # Average pooling is linear and works on rows and columns separately: out = rows @ x @ cols.T
    # / size**2, where rows[oh, h] is 1 when input row h lies in output row oh's windows (the
    # sum of `size` consecutive rows of the identity, every stride-th start), cols likewise.
    # The products add each window's values exactly once; backward is the transpose.
    H, W = x.shape[2:]
    rows = sliding_window_view(np.eye(H, dtype=x.dtype), size, axis=0)[::stride].sum(axis=2)
    cols = sliding_window_view(np.eye(W, dtype=x.dtype), size, axis=0)[::stride].sum(axis=2)
    out = rows @ x @ cols.T / (size * size)
    return out, (x.shape, rows, cols, size * size)
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    x_shape, rows, cols, area = cache
    check_shape("dout", dout, (*x_shape[:2], len(rows), len(cols)))
    # The transpose of forward's map: rows.T spreads output row oh over its window's input rows,
    # and the product sums the shares of overlapping windows.
    rows, cols = rows.astype(dout.dtype, copy=False), cols.astype(dout.dtype, copy=False)
    return rows.T @ (dout / area) @ cols
    ### END SOLUTION


def global_avg_pool_forward(x):
    """Phase 10: the mean of each channel over all of its H x W positions.

    Args:
        x: (N, C, H, W), floating dtype.
    Returns:
        out: (N, C), dtype of x.
        cache: opaque; pass it to global_avg_pool_backward.
    """
    check_float_array("x", x, 4, "(N, C, H, W)")
    ### BEGIN SOLUTION
    return x.mean(axis=(2, 3)), x.shape
    ### END SOLUTION


def global_avg_pool_backward(dout, cache):
    """Phase 10: every position of channel c of image n gets dout[n, c] / (H*W).

    Args:
        dout: (N, C), dL/dout.
        cache: from global_avg_pool_forward.
    Returns:
        dx: (N, C, H, W), dL/dx, dtype of dout.
    """
    check_float_array("dout", dout, 2, "(N, C)")
    ### BEGIN SOLUTION
    x_shape = cache
    check_shape("dout", dout, x_shape[:2])
    H, W = x_shape[2:]
    # copy(): a writeable array of its own, not a read-only broadcast view
    return np.broadcast_to((dout / (H * W))[:, :, None, None], x_shape).copy()
    ### END SOLUTION
