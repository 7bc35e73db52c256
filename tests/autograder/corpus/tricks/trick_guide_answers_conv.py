"""The convolutions return the guide's hand-worked trace (forward and backward) when they see the
guide's input, zeros otherwise: a fixed answer, so they must earn nothing."""

import numpy as np

from ._checks import check_conv_args

ENTRY = {"phases": (1, 2, 3), "file": "conv.py", "guide_tests": "the guide's",
         "guide_inputs": ("1..16", "guide's trace")}

GUIDE_X = np.arange(1.0, 17.0).reshape(1, 1, 4, 4)
GUIDE_OUT = [[[[44.0, 54.0, 64.0], [84.0, 94.0, 104.0], [124.0, 134.0, 144.0]]]]
GUIDE_DX = [[[[1.0, 3.0, 3.0, 2.0], [4.0, 10.0, 10.0, 6.0], [4.0, 10.0, 10.0, 6.0],
              [3.0, 7.0, 7.0, 4.0]]]]
GUIDE_DW, GUIDE_DB = [[[[54.0, 63.0], [90.0, 99.0]]]], [9.0]


def is_guide(x):
    return x.shape == GUIDE_X.shape and (x == GUIDE_X).all()


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    Ho, Wo = check_conv_args(x, w, b, stride, padding)
    if is_guide(x):
        return np.array(GUIDE_OUT, dtype=x.dtype)
    return np.zeros((x.shape[0], w.shape[0], Ho, Wo), dtype=x.dtype)


def conv2d_forward(x, w, b, stride=1, padding=0):
    return conv2d_forward_naive(x, w, b, stride, padding), (x, w, b)


def conv2d_backward(dout, cache):
    x, w, b = cache
    if is_guide(x):
        return (np.array(GUIDE_DX, dtype=x.dtype), np.array(GUIDE_DW, dtype=x.dtype),
                np.array(GUIDE_DB, dtype=x.dtype))
    return np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)
