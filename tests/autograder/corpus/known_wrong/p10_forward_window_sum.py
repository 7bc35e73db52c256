"""avg_pool_forward returns each window's sum: the division by size*size is forgotten."""

from numpy.lib.stride_tricks import sliding_window_view

from .pool import avg_pool_forward as average

ENTRY = {"phase": 10, "file": "pool.py", "place": "avg_pool_forward(",
         "diagnosis": "each window's sum, not its mean"}


def avg_pool_forward(x, size=2, stride=2):
    _, cache = average(x, size, stride)  # the reference's cache, for the backward
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    return windows.sum(axis=(4, 5)), cache  # the bug: .mean
