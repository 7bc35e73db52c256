"""max_pool_backward sends the gradient to every tied maximum of a window (a == max mask)."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

ENTRY = {"phase": 5, "file": "pool.py", "place": "max_pool_backward(",
         "diagnosis": "the gradient goes to every tied maximum"}


def max_pool_forward(x, size=2, stride=2):
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    return windows.max(axis=(4, 5)), (x, size, stride)


def max_pool_backward(dout, cache):
    x, size, stride = cache
    dx = np.zeros(x.shape, dtype=dout.dtype)
    for oh in range(dout.shape[2]):
        for ow in range(dout.shape[3]):
            rows = slice(oh * stride, oh * stride + size)
            cols = slice(ow * stride, ow * stride + size)
            window = x[:, :, rows, cols]
            mask = window == window.max(axis=(2, 3), keepdims=True)  # the bug: all ties
            dx[:, :, rows, cols] += mask * dout[:, :, oh, ow, None, None]
    return dx
