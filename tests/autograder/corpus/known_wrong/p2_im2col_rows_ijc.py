"""im2col orders the rows (i, j, c): kernel offset first, channel last."""

from numpy.lib.stride_tricks import sliding_window_view

from .conv import pad_hw

ENTRY = {"phase": 2, "file": "conv.py", "place": "im2col(",
         "diagnosis": "rows ordered kernel offset first"}


def im2col(x, kh, kw, stride=1, padding=0):
    windows = sliding_window_view(pad_hw(x, padding), (kh, kw), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]  # (N, C, Ho, Wo, kh, kw)
    rows = windows.transpose(4, 5, 1, 0, 2, 3)  # the bug: (kh, kw, C, ...), not (C, kh, kw, ...)
    return rows.reshape(x.shape[1] * kh * kw, -1)
