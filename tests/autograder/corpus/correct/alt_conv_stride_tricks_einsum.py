"""Convolution on an as_strided window view: einsum (naive), tensordot (forward and backward)."""

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._checks import check_conv_args
from .conv import col2im

ENTRY = {"file": "conv.py", "phases": (1, 2, 3)}


def windows_of(x, kh, kw, stride, padding):
    """A read-only (N, C, Ho, Wo, kh, kw) view of every window of the zero-padded x."""
    p = padding
    xpad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    N, C, Hp, Wp = xpad.shape
    Ho, Wo = (Hp - kh) // stride + 1, (Wp - kw) // stride + 1
    sn, sc, sh, sw = xpad.strides
    return as_strided(xpad, (N, C, Ho, Wo, kh, kw), (sn, sc, sh * stride, sw * stride, sh, sw),
                      writeable=False)


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    check_conv_args(x, w, b, stride, padding)
    windows = windows_of(x, w.shape[2], w.shape[3], stride, padding)
    return np.einsum("nchwij,fcij->nfhw", windows, w) + b[:, None, None]


def conv2d_forward(x, w, b, stride=1, padding=0):
    check_conv_args(x, w, b, stride, padding)
    windows = windows_of(x, w.shape[2], w.shape[3], stride, padding)
    out = np.tensordot(windows, w, axes=([1, 4, 5], [1, 2, 3]))  # (N, Ho, Wo, F)
    return (out + b).transpose(0, 3, 1, 2), (x.shape, windows, w, stride, padding)


def conv2d_backward(dout, cache):
    x_shape, windows, w, stride, padding = cache
    F, C, kh, kw = w.shape
    dw = np.tensordot(dout, windows, axes=([0, 2, 3], [0, 2, 3]))  # (F, C, kh, kw)
    dcols = np.tensordot(w, dout, axes=([0], [1])).reshape(C * kh * kw, -1)  # (C*kh*kw, N*Ho*Wo)
    return col2im(dcols, x_shape, kh, kw, stride, padding), dw, dout.sum(axis=(0, 2, 3))
