"""Average pooling by the definition: Python loops over every image, channel and window."""

import itertools

import numpy as np

ENTRY = {"file": "pool.py", "phases": (10,)}


def avg_pool_forward(x, size=2, stride=2):
    N, C, H, W = x.shape
    out = np.zeros((N, C, (H - size) // stride + 1, (W - size) // stride + 1), dtype=x.dtype)
    for n, c, oh, ow in itertools.product(*map(range, out.shape)):
        total = 0.0
        for i, j in itertools.product(range(size), range(size)):
            total += x[n, c, oh * stride + i, ow * stride + j]
        out[n, c, oh, ow] = total / (size * size)
    return out, (x.shape, size, stride)


def avg_pool_backward(dout, cache):
    x_shape, size, stride = cache
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for n, c, oh, ow in itertools.product(*map(range, dout.shape)):
        for i, j in itertools.product(range(size), range(size)):
            dx[n, c, oh * stride + i, ow * stride + j] += dout[n, c, oh, ow] / (size * size)
    return dx


def global_avg_pool_forward(x):
    N, C, H, W = x.shape
    out = np.zeros((N, C), dtype=x.dtype)
    for n, c in itertools.product(range(N), range(C)):
        out[n, c] = sum(float(v) for v in x[n, c].ravel()) / (H * W)
    return out, x.shape


def global_avg_pool_backward(dout, cache):
    N, C, H, W = cache
    dx = np.empty(cache, dtype=dout.dtype)
    for n, c in itertools.product(range(N), range(C)):
        dx[n, c] = dout[n, c] / (H * W)
    return dx
