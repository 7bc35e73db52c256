"""col2im loops over the windows and assigns (=) each one, so later windows overwrite overlaps."""

import numpy as np

from ._checks import conv_output_shape

ENTRY = {"phase": 3, "file": "conv.py", "place": "col2im(", "diagnosis": None}


def col2im(cols, x_shape, kh, kw, stride=1, padding=0):
    N, C, H, W = x_shape
    p = padding
    dx = np.zeros((N, C, H + 2 * p, W + 2 * p), dtype=cols.dtype)
    Ho, Wo = conv_output_shape(x_shape, kh, kw, stride, padding)
    windows = cols.reshape(C, kh, kw, N, Ho, Wo).transpose(3, 0, 4, 5, 1, 2)  # (N,C,Ho,Wo,kh,kw)
    for oh, ow in np.ndindex(Ho, Wo):
        top, left = oh * stride, ow * stride
        dx[:, :, top:top + kh, left:left + kw] = windows[:, :, oh, ow]  # the bug: +=
    return dx[:, :, p:p + H, p:p + W]
