"""receptive_field without a loop: jumps by np.cumprod, sizes by np.cumsum; returns an ndarray."""

import numpy as np

ENTRY = {"file": "model.py", "phases": (11,)}


def receptive_field(layers):
    kernels = np.array([kernel for _, kernel, _ in layers], dtype=np.int64)
    strides = np.array([stride for _, _, stride in layers], dtype=np.int64)
    jumps = np.cumprod(np.concatenate([[1], strides[:-1]]))  # the jump below each layer
    return 1 + np.cumsum((kernels - 1) * jumps)
