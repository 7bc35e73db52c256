"""im2col by fancy indexing with precomputed index arrays; col2im by np.add.at on the same
indices."""

import numpy as np

from ._checks import check_float_array, check_window_args, conv_output_shape

ENTRY = {"file": "conv.py", "phases": (2, 3)}


def window_indices(x_shape, kh, kw, stride, padding):
    """(channel, row, column) indices into xpad, each broadcastable to (C*kh*kw, Ho*Wo)."""
    C = x_shape[1]
    Ho, Wo = conv_output_shape(x_shape, kh, kw, stride, padding)
    channel = np.repeat(np.arange(C), kh * kw)[:, None]
    row = np.tile(np.repeat(np.arange(kh), kw), C)[:, None] + stride * np.repeat(np.arange(Ho), Wo)
    column = np.tile(np.arange(kw), kh * C)[:, None] + stride * np.tile(np.arange(Wo), Ho)
    return channel, row, column


def im2col(x, kh, kw, stride=1, padding=0):
    check_float_array("x", x, 4, "(N, C, H, W)")
    check_window_args(x.shape, kh, kw, stride, padding)
    p = padding
    xpad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    per_image = xpad[:, *window_indices(x.shape, kh, kw, stride, padding)]  # (N, C*kh*kw, Ho*Wo)
    return per_image.transpose(1, 0, 2).reshape(per_image.shape[1], -1)


def col2im(cols, x_shape, kh, kw, stride=1, padding=0):
    N, C, H, W = x_shape
    p = padding
    xpad = np.zeros((N, C, H + 2 * p, W + 2 * p), dtype=cols.dtype)
    per_image = cols.reshape(cols.shape[0], N, -1).transpose(1, 0, 2)
    np.add.at(xpad, (slice(None), *window_indices(x_shape, kh, kw, stride, padding)), per_image)
    return xpad[:, :, p:p + H, p:p + W]
