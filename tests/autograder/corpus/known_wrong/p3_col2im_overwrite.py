"""col2im assigns (=) each kernel offset's values instead of adding them (+=)."""

import numpy as np

from ._checks import conv_output_shape

ENTRY = {"phase": 3, "file": "conv.py", "place": "col2im(",
         "diagnosis": "overlapping windows overwrite each other"}


def col2im(cols, x_shape, kh, kw, stride=1, padding=0):
    N, C, H, W = x_shape
    Ho, Wo = conv_output_shape(x_shape, kh, kw, stride, padding)
    blocks = cols.reshape(C, kh, kw, N, Ho, Wo)
    xpad = np.zeros((N, C, H + 2 * padding, W + 2 * padding), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, columns = slice(i, i + stride * Ho, stride), slice(j, j + stride * Wo, stride)
            xpad[:, :, rows, columns] = blocks[:, i, j].transpose(1, 0, 2, 3)  # the bug: +=
    return xpad[:, :, padding:padding + H, padding:padding + W]
