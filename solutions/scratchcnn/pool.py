"""Max pooling: forward (Phase 4) and backward (Phase 5).

Conventions:
    x    (N, C, H, W)
    out  (N, C, Ho, Wo)   Ho = (H - size)//stride + 1, Wo likewise (valid windows only, no padding)

Each window of the backward pass sends its gradient to one position only: the first maximum in
row-major order within the window (PyTorch's rule). Overlapping windows (stride < size) sum
their contributions.
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
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    Ho, Wo = windows.shape[2:4]
    flat = windows.reshape(N, C, Ho, Wo, size * size)  # row-major order within each window
    argmax = flat.argmax(axis=-1)  # the first maximum wins ties
    out = np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0]
    cache = (x.shape, argmax, size, stride)
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
    x_shape, argmax, size, stride = cache
    check_shape("dout", dout, argmax.shape)
    N, C, H, W = x_shape
    Ho, Wo = argmax.shape[2:]
    # Position of each window's maximum in x, as one flat index into dx.
    row = np.arange(Ho)[:, None] * stride + argmax // size
    col = np.arange(Wo)[None, :] * stride + argmax % size
    plane = np.arange(N * C).reshape(N, C, 1, 1) * (H * W)
    flat_index = (plane + row * W + col).ravel()
    # bincount sums the contributions of overlapping windows that share a maximum.
    dx = np.bincount(flat_index, weights=dout.ravel(), minlength=N * C * H * W)
    return dx.reshape(x_shape).astype(dout.dtype)
    ### END SOLUTION
