"""BatchNorm2D.backward sums dgamma and dbeta in float64 and leaves them so: a float32 layer gets
float64 grads (found by `cnnkit audit`)."""

import numpy as np

from .blocks import BatchNorm2D

ENTRY = {"phase": 12, "file": "blocks.py", "place": "(float32 params)", "diagnosis": None}

backward_with_float32_grads = BatchNorm2D.backward


def backward_float64_grads(self, dout):
    dx = backward_with_float32_grads(self, dout)
    axes = (0, 2, 3)
    self.grads["beta"] = dout.sum(axis=axes, dtype=np.float64)  # the bug: not the params' dtype
    self.grads["gamma"] = self.grads["gamma"].astype(np.float64)
    return dx


BatchNorm2D.backward = backward_float64_grads
