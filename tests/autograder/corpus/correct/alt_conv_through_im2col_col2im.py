"""conv2d_forward as the lesson writes it, im2col and one matmul; conv2d_backward through col2im
(the student's own im2col and col2im, not channels-last)."""

from ._checks import conv_output_shape

ENTRY = {"file": "conv.py", "phases": (2, 3)}


def conv2d_forward(x, w, b, stride=1, padding=0):
    N, F, (kh, kw) = x.shape[0], w.shape[0], w.shape[2:]
    Ho, Wo = conv_output_shape(x.shape, kh, kw, stride, padding)
    cols = im2col(x, kh, kw, stride, padding)  # noqa: F821 - conv.py's own
    out = (w.reshape(F, -1) @ cols).reshape(F, N, Ho, Wo).transpose(1, 0, 2, 3)
    return out + b.reshape(1, F, 1, 1), (x.shape, w, cols, stride, padding)


def conv2d_backward(dout, cache):
    x_shape, w, cols, stride, padding = cache
    F, C, kh, kw = w.shape
    dout_rows = dout.transpose(1, 0, 2, 3).reshape(F, -1)  # (F, N*Ho*Wo), as cols' columns
    dw = (dout_rows @ cols.T).reshape(w.shape)
    db = dout_rows.sum(axis=1)
    dx = col2im(w.reshape(F, -1).T @ dout_rows, x_shape, kh, kw, stride, padding)  # noqa: F821
    return dx, dw, db
