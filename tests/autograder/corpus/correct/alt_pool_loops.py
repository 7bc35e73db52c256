"""Max pooling with Python loops over the output positions, forward and backward (x cached)."""

import numpy as np

from ._checks import check_float_array, check_window_args

ENTRY = {"file": "pool.py", "phases": (4, 5)}


def max_pool_forward(x, size=2, stride=2):
    check_float_array("x", x, 4, "(N, C, H, W)")
    check_window_args(x.shape, size, size, stride, 0)
    Ho, Wo = (x.shape[2] - size) // stride + 1, (x.shape[3] - size) // stride + 1
    out = np.empty((*x.shape[:2], Ho, Wo), dtype=x.dtype)
    for oh in range(Ho):
        for ow in range(Wo):
            window = x[:, :, oh * stride:oh * stride + size, ow * stride:ow * stride + size]
            out[:, :, oh, ow] = window.max(axis=(2, 3))
    return out, (x, size, stride)


def max_pool_backward(dout, cache):
    x, size, stride = cache
    N, C, Ho, Wo = dout.shape
    n, c = np.indices((N, C))
    dx = np.zeros(x.shape, dtype=dout.dtype)
    for oh in range(Ho):
        for ow in range(Wo):
            window = x[:, :, oh * stride:oh * stride + size, ow * stride:ow * stride + size]
            i, j = np.divmod(window.reshape(N, C, -1).argmax(axis=2), size)  # first maximum
            dx[n, c, oh * stride + i, ow * stride + j] += dout[:, :, oh, ow]
    return dx
