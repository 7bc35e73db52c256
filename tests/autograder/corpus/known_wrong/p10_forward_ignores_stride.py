"""avg_pool_forward and backward step by the window size, ignoring the stride."""

import numpy as np

ENTRY = {"phase": 10, "file": "pool.py", "place": "avg_pool_forward(",
         "diagnosis": "windows step by the window size, not by the stride"}


def avg_pool_forward(x, size=2, stride=2):
    N, C, H, W = x.shape
    Ho, Wo = H // size, W // size  # the bug: (H - size) // stride + 1
    tiles = x[:, :, :Ho * size, :Wo * size].reshape(N, C, Ho, size, Wo, size)
    return tiles.mean(axis=(3, 5)), (x.shape, size)


def avg_pool_backward(dout, cache):
    (N, C, H, W), size = cache
    Ho, Wo = dout.shape[2:]
    dx = np.zeros((N, C, H, W), dtype=dout.dtype)
    tiles = dx[:, :, :Ho * size, :Wo * size].reshape(N, C, Ho, size, Wo, size)
    tiles[...] = (dout / (size * size))[:, :, :, None, :, None]
    return dx
