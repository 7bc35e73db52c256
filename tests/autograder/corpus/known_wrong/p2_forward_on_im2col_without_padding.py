"""im2col never pads its input, and conv2d_forward, written as im2col and one matmul, fails with it."""

import numpy as np

from ._checks import conv_output_shape
from .conv import conv2d_forward as reference_forward

# "blame": conv2d_forward's own feedback must name im2col as the function to fix first.
ENTRY = {"phase": 2, "file": "conv.py", "place": "im2col(", "diagnosis": "the padding is ignored",
         "blame": {2: "Your im2col is wrong on this input too"}}


def im2col(x, kh, kw, stride=1, padding=0):
    N, C, H, W = x.shape
    Ho, Wo = (H - kh) // stride + 1, (W - kw) // stride + 1  # the bug: padding is never used
    offsets = [x[:, :, i:i + stride * Ho:stride, j:j + stride * Wo:stride]
               for i in range(kh) for j in range(kw)]
    cols = np.stack(offsets, axis=2)  # (N, C, kh*kw, Ho, Wo)
    return cols.transpose(1, 2, 0, 3, 4).reshape(C * kh * kw, N * Ho * Wo)


def conv2d_forward(x, w, b, stride=1, padding=0):
    N, F, (kh, kw) = x.shape[0], w.shape[0], w.shape[2:]
    Ho, Wo = conv_output_shape(x.shape, kh, kw, stride, padding)
    cols = im2col(x, kh, kw, stride, padding)
    out = (w.reshape(F, -1) @ cols).reshape(F, N, Ho, Wo).transpose(1, 0, 2, 3)
    out = out + b.reshape(1, F, 1, 1)
    return out, reference_forward(x, w, b, stride, padding)[1]  # the cache backward expects
