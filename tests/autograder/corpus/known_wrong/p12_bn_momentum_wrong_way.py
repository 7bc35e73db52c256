"""BatchNorm2D weighs the batch statistic by 1 - momentum (0.9 by default), not by momentum."""

import numpy as np

from .blocks import BatchNorm2D

ENTRY = {"phase": 12, "file": "blocks.py", "place": "running_mean after 2 training steps",
         "diagnosis": "momentum is applied the wrong way round"}


def forward_momentum_swapped(self, x):
    axes = (0, 2, 3)
    if self.training:
        n = x.size // x.shape[1]
        batch = {"running_mean": np.mean(x, axis=axes),
                 "running_var": np.var(x, axis=axes) * n / (n - 1)}
        for name, value in batch.items():  # the bug: momentum weighs the old running value
            self.buffers[name] = self.momentum * self.buffers[name] + (1 - self.momentum) * value
        mean, var = batch["running_mean"], np.var(x, axis=axes)
    else:
        mean, var = self.buffers["running_mean"], self.buffers["running_var"]
    scale = self.params["gamma"] / np.sqrt(var + self.eps)
    x_hat = (x - mean[None, :, None, None]) / np.sqrt(var + self.eps)[None, :, None, None]
    self.cache = (x_hat, scale, self.training)
    return x_hat * self.params["gamma"][None, :, None, None] + self.params["beta"][None, :, None,
                                                                                   None]


BatchNorm2D.forward = forward_momentum_swapped
