"""avg_pool_backward gives every position of a window the whole dout, not dout / size**2."""

import numpy as np

ENTRY = {"phase": 10, "file": "pool.py", "place": "avg_pool_backward(",
         "diagnosis": "the gradient is not divided by the window's size*size positions"}


def avg_pool_forward(x, size=2, stride=2):
    Ho, Wo = (x.shape[2] - size) // stride + 1, (x.shape[3] - size) // stride + 1
    out = np.zeros((*x.shape[:2], Ho, Wo), dtype=x.dtype)
    for i in range(size):  # every offset in the window: a strided slice of all windows at once
        for j in range(size):
            out += x[:, :, i:i + stride * Ho:stride, j:j + stride * Wo:stride]
    return out / (size * size), (x.shape, size, stride)


def avg_pool_backward(dout, cache):
    x_shape, size, stride = cache
    Ho, Wo = dout.shape[2:]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for i in range(size):
        for j in range(size):
            dx[:, :, i:i + stride * Ho:stride, j:j + stride * Wo:stride] += dout  # bug: / size**2
    return dx
