"""col2im returns the padded image: the padding border is never cropped."""

import numpy as np

from ._checks import conv_output_shape

ENTRY = {"phase": 3, "file": "conv.py", "place": "col2im(",
         "diagnosis": "the padding is not cropped"}


def col2im(cols, x_shape, kh, kw, stride=1, padding=0):
    N, C, H, W = x_shape
    Ho, Wo = conv_output_shape(x_shape, kh, kw, stride, padding)
    dx = np.zeros((N, C, H + 2 * padding, W + 2 * padding), dtype=cols.dtype)
    for k, (n, oh, ow) in enumerate(np.ndindex(N, Ho, Wo)):
        r, c = oh * stride, ow * stride
        dx[n, :, r:r + kh, c:c + kw] += cols[:, k].reshape(C, kh, kw)
    return dx  # the bug: dx[:, :, padding:padding + H, padding:padding + W]
