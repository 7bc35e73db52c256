"""Average pooling on as_strided windows with einsum; backward by np.add.at on index arrays."""

import numpy as np
from numpy.lib.stride_tricks import as_strided

ENTRY = {"file": "pool.py", "phases": (10,)}


def avg_pool_forward(x, size=2, stride=2):
    N, C, H, W = x.shape
    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
    sn, sc, sh, sw = x.strides
    windows = as_strided(x, (N, C, Ho, Wo, size, size), (sn, sc, sh * stride, sw * stride, sh, sw),
                         writeable=False)
    out = np.einsum("ncijkl->ncij", windows) / (size * size)
    return out.astype(x.dtype, copy=False), (x.shape, size, stride)


def avg_pool_backward(dout, cache):
    x_shape, size, stride = cache
    N, C, Ho, Wo = dout.shape
    n, c, oh, ow, i, j = np.ogrid[:N, :C, :Ho, :Wo, :size, :size]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    shares = np.broadcast_to((dout / (size * size))[..., None, None], (N, C, Ho, Wo, size, size))
    np.add.at(dx, (n, c, oh * stride + i, ow * stride + j), shares)
    return dx


def global_avg_pool_forward(x):
    return np.einsum("nchw->nc", x) / (x.shape[2] * x.shape[3]), x.shape


def global_avg_pool_backward(dout, cache):
    return np.einsum("nc,hw->nchw", dout, np.full(cache[2:], 1 / (cache[2] * cache[3]),
                                                  dtype=dout.dtype))
