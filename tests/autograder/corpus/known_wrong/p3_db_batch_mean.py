"""conv2d_backward averages db over the batch instead of summing it."""

from .conv import conv2d_backward as backward_with_summed_db

ENTRY = {"phase": 3, "file": "conv.py", "place": ("conv2d_backward(", ") db: "), "diagnosis": None}


def conv2d_backward(dout, cache):
    dx, dw, db = backward_with_summed_db(dout, cache)
    return dx, dw, db / dout.shape[0]  # the bug: dL/db sums over the batch
