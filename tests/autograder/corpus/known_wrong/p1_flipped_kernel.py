"""conv2d_forward_naive flips the kernel (textbook convolution, not PyTorch's cross-correlation)."""

import numpy as np

from ._checks import check_conv_args
from .conv import pad_hw

ENTRY = {"phase": 1, "file": "conv.py", "place": "conv2d_forward_naive(",
         "diagnosis": "the kernel is flipped"}


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    Ho, Wo = check_conv_args(x, w, b, stride, padding)
    kh, kw = w.shape[2:]
    flipped = w[:, :, ::-1, ::-1]  # the bug
    xpad = pad_hw(x, padding)
    out = np.zeros((x.shape[0], w.shape[0], Ho, Wo), dtype=x.dtype)
    for oh in range(Ho):
        for ow in range(Wo):
            patch = xpad[:, :, oh * stride:oh * stride + kh, ow * stride:ow * stride + kw]
            out[:, :, oh, ow] = np.tensordot(patch, flipped, axes=([1, 2, 3], [1, 2, 3])) + b
    return out
