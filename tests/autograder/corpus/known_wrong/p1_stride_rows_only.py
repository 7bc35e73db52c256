"""conv2d_forward_naive applies the stride to the rows only (columns step by 1)."""

import numpy as np

from ._checks import check_conv_args
from .conv import pad_hw

ENTRY = {"phase": 1, "file": "conv.py", "place": "conv2d_forward_naive(", "diagnosis": None}


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    Ho, Wo = check_conv_args(x, w, b, stride, padding)
    kh, kw = w.shape[2:]
    xpad = pad_hw(x, padding)
    out = np.empty((x.shape[0], w.shape[0], Ho, Wo), dtype=x.dtype)
    for oh in range(Ho):
        rows = xpad[:, :, oh * stride:oh * stride + kh]
        for ow in range(Wo):
            window = rows[:, :, :, ow:ow + kw]  # the bug: ow * stride
            out[:, :, oh, ow] = np.einsum("nchw,fchw->nf", window, w) + b
    return out
