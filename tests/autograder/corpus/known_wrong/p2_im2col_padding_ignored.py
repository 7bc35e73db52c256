"""im2col never pads its input."""

import numpy as np

ENTRY = {"phase": 2, "file": "conv.py", "place": "im2col(", "diagnosis": "the padding is ignored"}


def im2col(x, kh, kw, stride=1, padding=0):
    N, C, H, W = x.shape
    Ho, Wo = (H - kh) // stride + 1, (W - kw) // stride + 1  # the bug: padding is never used
    offsets = [x[:, :, i:i + stride * Ho:stride, j:j + stride * Wo:stride]
               for i in range(kh) for j in range(kw)]
    cols = np.stack(offsets, axis=2)  # (N, C, kh*kw, Ho, Wo)
    return cols.transpose(1, 2, 0, 3, 4).reshape(C * kh * kw, N * Ho * Wo)
