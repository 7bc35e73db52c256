"""col2im as one np.bincount over flat indices into the padded image."""

import numpy as np

from ._checks import conv_output_shape

ENTRY = {"file": "conv.py", "phases": (3,)}


def col2im(cols, x_shape, kh, kw, stride=1, padding=0):
    N, C, H, W = x_shape
    Ho, Wo = conv_output_shape(x_shape, kh, kw, stride, padding)
    Hp, Wp = H + 2 * padding, W + 2 * padding
    c, i, j, n, oh, ow = np.ix_(*(np.arange(k) for k in (C, kh, kw, N, Ho, Wo)))
    flat = ((n * C + c) * Hp + oh * stride + i) * Wp + ow * stride + j  # cols' (r, k) order
    xpad = np.bincount(flat.ravel(), weights=cols.ravel(), minlength=N * C * Hp * Wp)
    dx = xpad.reshape(N, C, Hp, Wp)[:, :, padding:padding + H, padding:padding + W]
    return dx.astype(cols.dtype)
