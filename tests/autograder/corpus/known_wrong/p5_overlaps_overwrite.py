"""max_pool_backward scatters with a fancy-index assignment, so overlapping windows overwrite."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

ENTRY = {"phase": 5, "file": "pool.py", "place": "max_pool_backward(",
         "diagnosis": "overlapping windows overwrite each other's gradient"}


def max_pool_forward(x, size=2, stride=2):
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    first = windows.reshape(*windows.shape[:4], -1).argmax(axis=-1)
    return windows.max(axis=(4, 5)), (x.shape, first, size, stride)


def max_pool_backward(dout, cache):
    x_shape, first, size, stride = cache
    n, c, oh, ow = np.indices(dout.shape)
    dx = np.zeros(x_shape, dtype=dout.dtype)
    dx[n, c, oh * stride + first // size, ow * stride + first % size] = dout  # the bug: np.add.at
    return dx
