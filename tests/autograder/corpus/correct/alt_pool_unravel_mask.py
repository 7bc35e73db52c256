"""Max pooling: argmax of flattened windows; backward builds a one-hot mask with unravel_index."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._checks import check_float_array, check_window_args

ENTRY = {"file": "pool.py", "phases": (4, 5)}


def max_pool_forward(x, size=2, stride=2):
    check_float_array("x", x, 4, "(N, C, H, W)")
    check_window_args(x.shape, size, size, stride, 0)
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    flat = windows.reshape(*windows.shape[:4], size * size)
    argmax = flat.argmax(axis=-1)  # the first maximum in row-major order
    out = np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0]
    return out, (x.shape, argmax, size, stride)


def max_pool_backward(dout, cache):
    x_shape, argmax, size, stride = cache
    Ho, Wo = argmax.shape[2:]
    mask = np.zeros((*argmax.shape, size, size), dtype=dout.dtype)
    i, j = np.unravel_index(argmax, (size, size))
    mask[(*np.indices(argmax.shape), i, j)] = dout  # one window per (n, c, oh, ow): no clash
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for a, b in np.ndindex(size, size):
        dx[:, :, a:a + stride * Ho:stride, b:b + stride * Wo:stride] += mask[..., a, b]
    return dx
