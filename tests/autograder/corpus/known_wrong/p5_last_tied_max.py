"""max_pool_backward scans each window with >=, so ties go to the last maximum."""

import numpy as np

ENTRY = {"phase": 5, "file": "pool.py", "place": "max_pool_backward(",
         "diagnosis": "ties go to the last maximum"}


def max_pool_forward(x, size=2, stride=2):
    N, C, H, W = x.shape
    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
    out = np.stack([x[:, :, i:i + stride * Ho:stride, j:j + stride * Wo:stride]
                    for i in range(size) for j in range(size)]).max(axis=0)
    return out, (x, size, stride)


def max_pool_backward(dout, cache):
    x, size, stride = cache
    dx = np.zeros(x.shape, dtype=dout.dtype)
    for n, c, oh, ow in np.ndindex(dout.shape):
        best, where = -np.inf, None
        for i in range(size):
            for j in range(size):
                value = x[n, c, oh * stride + i, ow * stride + j]
                if value >= best:  # the bug: > keeps the first maximum
                    best, where = value, (oh * stride + i, ow * stride + j)
        dx[(n, c, *where)] += dout[n, c, oh, ow]
    return dx
