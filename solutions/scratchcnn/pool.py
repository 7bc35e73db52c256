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
    ### BEGIN SOLUTION
    H, W = x.shape[2:]
    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
    # Offset (i, j) of every window at once is a strided view (N, C, Ho, Wo) of x, so the max
    # and the masks are a few elementwise ops per offset over whole arrays.
    offsets = [(slice(i, i + stride * Ho, stride), slice(j, j + stride * Wo, stride))
               for i in range(size) for j in range(size)]  # row-major, as the tie rule reads
    # In channels-last memory every view runs over C-long rows: one copy when x is NCHW, none
    # when it already is channels-last (the reference's conv output).
    x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    views = [x[:, :, rows, cols] for rows, cols in offsets]
    out = views[0].copy(order="K")
    for view in views[1:]:
        np.maximum(out, view, out=out)
    # Backward needs, per offset, where it holds its window's first maximum: where it equals
    # the maximum and no earlier offset does (ties are common: MNIST's blank background). The
    # last offset holds it wherever no earlier one does, which also gives every window (even
    # one with a NaN) exactly one position.
    masks, taken = [], np.zeros_like(out, dtype=bool)  # bool, in x's memory order
    for view in views[:-1]:
        mask = view == out
        np.greater(mask, taken, out=mask)  # mask and not taken
        taken |= mask
        masks.append(mask)
    masks.append(~taken)
    cache = (x.shape, offsets, masks, stride, size)
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
    x_shape, offsets, masks, stride, size = cache
    check_shape("dout", dout, masks[0].shape)
    # dout, and dx, in the masks' channels-last memory order (a copy only when dout is NCHW):
    # elementwise ops over arrays of different memory orders run several times slower.
    dout = np.ascontiguousarray(dout.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    H, W = x_shape[2:]
    tiled = stride == size and H % size == 0 and W % size == 0  # every position in one window
    dx = (np.empty_like if tiled else np.zeros_like)(dout, shape=x_shape)
    for (rows, cols), mask in zip(offsets, masks):
        if stride < size:  # overlapping windows: a position may be the maximum of several
            dx[:, :, rows, cols] += dout * mask
        else:  # each position is in one window at most: write
            np.multiply(dout, mask, out=dx[:, :, rows, cols])
    return dx
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
