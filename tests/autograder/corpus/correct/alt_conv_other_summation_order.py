"""Float rounding: naive conv accumulated in float64 then cast; fast conv and its backward summed
one kernel offset at a time in the input's dtype (another order than one matrix product)."""

import numpy as np

from ._checks import check_conv_args
from .conv import pad_hw

ENTRY = {"file": "conv.py", "phases": (1, 2, 3)}


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    Ho, Wo = check_conv_args(x, w, b, stride, padding)
    kh, kw = w.shape[2:]
    xpad, w64 = pad_hw(x, padding).astype(np.float64), w.astype(np.float64)
    out = np.zeros((x.shape[0], w.shape[0], Ho, Wo))
    for n, f, oh, ow in np.ndindex(out.shape):
        window = xpad[n, :, oh * stride:oh * stride + kh, ow * stride:ow * stride + kw]
        out[n, f, oh, ow] = np.dot(window.ravel(), w64[f].ravel()) + b[f]
    return out.astype(x.dtype)


def offset_view(xpad, i, j, stride, Ho, Wo):
    """xpad's values under kernel offset (i, j) at every output position: (N, C, Ho, Wo)."""
    return xpad[:, :, i:i + stride * Ho:stride, j:j + stride * Wo:stride]


def conv2d_forward(x, w, b, stride=1, padding=0):
    Ho, Wo = check_conv_args(x, w, b, stride, padding)
    xpad = pad_hw(x, padding)
    out = np.broadcast_to(b[:, None, None], (x.shape[0], w.shape[0], Ho, Wo)).copy()
    for i, j in np.ndindex(w.shape[2:]):
        out += np.einsum("nchw,fc->nfhw", offset_view(xpad, i, j, stride, Ho, Wo), w[:, :, i, j])
    return out, (xpad, w, stride, padding)


def conv2d_backward(dout, cache):
    xpad, w, stride, padding = cache
    Ho, Wo = dout.shape[2:]
    dw = np.zeros_like(w)
    dxpad = np.zeros_like(xpad)
    for i, j in np.ndindex(w.shape[2:]):
        dw[:, :, i, j] = np.einsum("nfhw,nchw->fc", dout, offset_view(xpad, i, j, stride, Ho, Wo))
        offset_view(dxpad, i, j, stride, Ho, Wo)[...] += np.einsum("nfhw,fc->nchw", dout,
                                                                   w[:, :, i, j])
    H, W = xpad.shape[2] - 2 * padding, xpad.shape[3] - 2 * padding
    return dxpad[:, :, padding:padding + H, padding:padding + W], dw, dout.sum(axis=(0, 2, 3))
