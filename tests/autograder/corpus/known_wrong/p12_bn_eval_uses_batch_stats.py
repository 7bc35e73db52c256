"""BatchNorm2D updates its running statistics but never uses them: eval mode normalises with
the batch's statistics too."""

import numpy as np

from .blocks import BatchNorm2D

ENTRY = {"phase": 12, "file": "blocks.py", "place": "forward out in eval mode",
         "diagnosis": "eval mode normalises with the batch statistics"}


def forward_batch_statistics_always(self, x):
    mean = x.mean(axis=(0, 2, 3))
    var = x.var(axis=(0, 2, 3))
    if self.training:
        n = x.size / x.shape[1]
        keep = 1 - self.momentum
        self.buffers["running_mean"] = keep * self.buffers["running_mean"] + self.momentum * mean
        self.buffers["running_var"] = (keep * self.buffers["running_var"]
                                       + self.momentum * var * n / (n - 1))
    # the bug: no `else` branch taking running_mean and running_var
    scale = self.params["gamma"] / np.sqrt(var + self.eps)
    x_hat = (x - mean.reshape(1, -1, 1, 1)) / np.sqrt(var + self.eps).reshape(1, -1, 1, 1)
    self.cache = (x_hat, scale, self.training)
    return scale.reshape(1, -1, 1, 1) * (x - mean.reshape(1, -1, 1, 1)) + \
        self.params["beta"].reshape(1, -1, 1, 1)


BatchNorm2D.forward = forward_batch_statistics_always
