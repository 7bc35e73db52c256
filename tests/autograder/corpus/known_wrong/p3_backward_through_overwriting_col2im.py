"""col2im assigns (=) instead of adding, and conv2d_backward, which gets dx from it, fails too."""

import numpy as np

from ._checks import conv_output_shape

# "blame": conv2d_backward's own feedback must name col2im as the function to fix first.
ENTRY = {"phase": 3, "file": "conv.py", "place": "col2im(",
         "diagnosis": "overlapping windows overwrite each other",
         "blame": {3: "Your col2im is wrong on this input too"}}


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


def conv2d_forward(x, w, b, stride=1, padding=0):
    N, F, (kh, kw) = x.shape[0], w.shape[0], w.shape[2:]
    Ho, Wo = conv_output_shape(x.shape, kh, kw, stride, padding)
    cols = im2col(x, kh, kw, stride, padding)
    out = (w.reshape(F, -1) @ cols).reshape(F, N, Ho, Wo).transpose(1, 0, 2, 3)
    return out + b.reshape(1, F, 1, 1), (x.shape, w, cols, stride, padding)


def conv2d_backward(dout, cache):
    x_shape, w, cols, stride, padding = cache
    F, C, kh, kw = w.shape
    dout_rows = dout.transpose(1, 0, 2, 3).reshape(F, -1)  # (F, N*Ho*Wo), as cols' columns
    dw = (dout_rows @ cols.T).reshape(w.shape)
    db = dout_rows.sum(axis=1)
    dx = col2im(w.reshape(F, -1).T @ dout_rows, x_shape, kh, kw, stride, padding)
    return dx, dw, db
