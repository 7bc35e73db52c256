"""im2col orders the columns with the image index n varying fastest."""

import numpy as np

from ._checks import conv_output_shape
from .conv import pad_hw

ENTRY = {"phase": 2, "file": "conv.py", "place": "im2col(",
         "diagnosis": "columns ordered with n fastest"}


def im2col(x, kh, kw, stride=1, padding=0):
    N, C = x.shape[:2]
    Ho, Wo = conv_output_shape(x.shape, kh, kw, stride, padding)
    xpad = pad_hw(x, padding)
    cols = np.empty((C * kh * kw, Ho * Wo * N), dtype=x.dtype)
    for oh in range(Ho):
        for ow in range(Wo):
            patch = xpad[:, :, oh * stride:oh * stride + kh, ow * stride:ow * stride + kw]
            k = (oh * Wo + ow) * N  # the bug: the contract's k is n*Ho*Wo + oh*Wo + ow
            cols[:, k:k + N] = patch.reshape(N, -1).T
    return cols
