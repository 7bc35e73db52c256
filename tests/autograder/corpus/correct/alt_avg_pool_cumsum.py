"""Average pooling by running sums: forward from an integral image, backward by a difference
array (each window adds its share at one corner, subtracts it past the others) summed up."""

import numpy as np

ENTRY = {"file": "pool.py", "phases": (10,)}


def avg_pool_forward(x, size=2, stride=2):
    N, C, H, W = x.shape
    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
    integral = np.zeros((N, C, H + 1, W + 1), dtype=x.dtype)
    integral[:, :, 1:, 1:] = x.cumsum(axis=2).cumsum(axis=3)
    top = np.arange(Ho) * stride
    left = np.arange(Wo) * stride
    bottom, right = top + size, left + size
    sums = (integral[:, :, bottom[:, None], right] - integral[:, :, top[:, None], right]
            - integral[:, :, bottom[:, None], left] + integral[:, :, top[:, None], left])
    return (sums / (size * size)).astype(x.dtype), (x.shape, size, stride)


def avg_pool_backward(dout, cache):
    (N, C, H, W), size, stride = cache
    Ho, Wo = dout.shape[2:]
    share = dout / (size * size)
    corners = np.zeros((N, C, H + 1, W + 1), dtype=dout.dtype)
    top, left = np.arange(Ho) * stride, np.arange(Wo) * stride
    for rows, row_sign in ((top, 1), (top + size, -1)):
        for cols, col_sign in ((left, 1), (left + size, -1)):
            np.add.at(corners, (slice(None), slice(None), rows[:, None], cols),
                      row_sign * col_sign * share)
    return corners.cumsum(axis=2).cumsum(axis=3)[:, :, :H, :W]


def global_avg_pool_forward(x):
    N, C = x.shape[:2]
    return x.reshape(N, C, -1).mean(axis=2), x.shape


def global_avg_pool_backward(dout, cache):
    H, W = cache[2:]
    return np.repeat(dout[:, :, None] / (H * W), H * W, axis=2).reshape(cache)
