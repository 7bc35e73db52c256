"""conv2d_forward never adds the bias (it reaches the product as zeros)."""

import numpy as np

from .conv import conv2d_forward as forward_with_bias

ENTRY = {"phase": 2, "file": "conv.py", "place": "conv2d_forward(",
         "diagnosis": "the bias is not added"}


def conv2d_forward(x, w, b, stride=1, padding=0):
    return forward_with_bias(x, w, np.zeros_like(b), stride, padding)  # the bug: b dropped
