"""relu_backward lets the gradient through where x == 0 (x >= 0 instead of x > 0)."""

import numpy as np

ENTRY = {"phase": 7, "file": "layers.py", "place": "relu_backward(",
         "diagnosis": "the gradient passes where x == 0"}


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    return dout * (cache >= 0)  # the bug
