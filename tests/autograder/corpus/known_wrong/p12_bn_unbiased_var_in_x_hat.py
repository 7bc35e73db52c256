"""BatchNorm2D normalises with the unbiased variance (ddof=1), as it updates running_var."""

import numpy as np

from .blocks import BatchNorm2D

ENTRY = {"phase": 12, "file": "blocks.py", "place": "forward out (training mode, step 1)",
         "diagnosis": "x is normalised with the unbiased variance"}


def forward_with_sample_variance(self, x):
    gamma = self.params["gamma"].reshape(1, -1, 1, 1)
    beta = self.params["beta"].reshape(1, -1, 1, 1)
    if self.training:
        mean = x.mean(axis=(0, 2, 3), keepdims=True)
        var = x.var(axis=(0, 2, 3), ddof=1, keepdims=True)  # the bug: x_hat needs ddof=0
        m = self.momentum
        self.buffers["running_mean"] = (1 - m) * self.buffers["running_mean"] + m * mean.ravel()
        self.buffers["running_var"] = (1 - m) * self.buffers["running_var"] + m * var.ravel()
    else:
        mean = self.buffers["running_mean"].reshape(1, -1, 1, 1)
        var = self.buffers["running_var"].reshape(1, -1, 1, 1)
    x_hat = (x - mean) / np.sqrt(var + self.eps)
    self.cache = (x_hat, gamma / np.sqrt(var + self.eps), self.training)
    return gamma * x_hat + beta


BatchNorm2D.forward = forward_with_sample_variance
