"""avg_pool_backward assigns (=) each window's share, so overlapping windows overwrite."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

ENTRY = {"phase": 10, "file": "pool.py", "place": "avg_pool_backward(",
         "diagnosis": "overlapping windows overwrite each other's gradient"}


def avg_pool_forward(x, size=2, stride=2):
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    return windows.mean(axis=(4, 5)), (x.shape, size, stride)


def avg_pool_backward(dout, cache):
    x_shape, size, stride = cache
    dx = np.zeros(x_shape, dtype=dout.dtype)
    share = dout / (size * size)
    for oh in range(dout.shape[2]):
        for ow in range(dout.shape[3]):
            window = dx[:, :, oh * stride:oh * stride + size, ow * stride:ow * stride + size]
            window[...] = share[:, :, oh, ow, None, None]  # the bug: +=
    return dx
