"""BatchNorm2D's running variance takes the biased batch variance (PyTorch's is unbiased)."""

import numpy as np

from .blocks import BatchNorm2D

ENTRY = {"phase": 12, "file": "blocks.py", "place": "running_var after 2 training steps",
         "diagnosis": "the running variance takes the biased batch variance"}


def forward_biased_running_var(self, x):
    channels = x.shape[1]
    rows = x.transpose(1, 0, 2, 3).reshape(channels, -1)  # one row per channel
    if self.training:
        mean, var = rows.mean(axis=1), rows.var(axis=1)
        m = self.momentum
        self.buffers["running_mean"] = (1 - m) * self.buffers["running_mean"] + m * mean
        self.buffers["running_var"] = (1 - m) * self.buffers["running_var"] + m * var  # the bug
    else:
        mean, var = self.buffers["running_mean"], self.buffers["running_var"]
    inv_std = 1 / np.sqrt(var + self.eps)
    x_hat = (x - mean[:, None, None]) * inv_std[:, None, None]
    self.cache = (x_hat, self.params["gamma"] * inv_std, self.training)
    return self.params["gamma"][:, None, None] * x_hat + self.params["beta"][:, None, None]


BatchNorm2D.forward = forward_biased_running_var
