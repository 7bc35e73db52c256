"""flatten_forward flattens in (N, H, W, C) order (TensorFlow's layout); backward undoes it."""

import numpy as np

ENTRY = {"phase": 6, "file": "layers.py", "place": "flatten_forward(", "diagnosis": None}


def flatten_forward(x):
    channels_last = np.moveaxis(x, 1, -1)  # the bug: the contract is row-major (C, H, W)
    return channels_last.reshape(x.shape[0], -1), x.shape


def flatten_backward(dout, cache):
    N, C, *rest = cache
    return np.moveaxis(dout.reshape(N, *rest, C), -1, 1)
