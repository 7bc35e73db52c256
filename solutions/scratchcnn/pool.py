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
    # Backward needs the flat index in x of each window's first maximum (row-major order):
    # the window's top-left corner plus the offset's shift i*W + j (o = i*size + j). Shifts
    # grow with o, so the first maximum has the smallest shift among the offsets holding the
    # maximum: give offset o the priority top - shift[o] and keep the highest (np.where or an
    # argmax over the offsets are far slower).
    H, W = x.shape[2:]
    shift = np.arange(k) // size * W + np.arange(k) % size
    top = shift[-1] + 1
    priority = (top - shift).astype(np.min_scalar_type(top)).reshape(k, 1, 1, 1, 1)
    corner = np.arange(Ho).reshape(Ho, 1) * (stride * W) + np.arange(Wo) * stride  # (Ho, Wo)
    index = np.arange(N * C).reshape(N, C, 1, 1) * (H * W) + (corner + top)
    holds_max = (by_offset == out).view(np.uint8)  # 0/1 per offset, no copy
    # In place (less memory) when the priorities fit in a byte: images up to ~127 pixels wide.
    index -= np.multiply(holds_max, priority, out=holds_max if top < 256 else None).max(axis=0)
    cache = (x.shape, index, stride < size)
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
    x_shape, index, overlapping = cache
    check_shape("dout", dout, index.shape)
    if not overlapping:
        # Each position of x is in at most one window: one scatter writes the whole gradient.
        dx = np.zeros(x_shape, dtype=dout.dtype)
        dx.reshape(-1)[index.reshape(-1)] = dout.reshape(-1)
        return dx
    # Overlapping windows may share a maximum: bincount sums their contributions.
    dx = np.bincount(index.reshape(-1), weights=dout.reshape(-1), minlength=int(np.prod(x_shape)))
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
