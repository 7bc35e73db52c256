"""BatchNorm2D with its statistics in a cache and the backward by the long chain rule
(through var, then mean, then x), channels moved last."""

import numpy as np

from .blocks import BatchNorm2D

ENTRY = {"file": "blocks.py", "phases": (12,)}


def forward_channels_last(self, x):
    xl = np.moveaxis(x, 1, -1)  # (N, H, W, C): the statistics reduce the leading axes
    axes = (0, 1, 2)
    if self.training:
        mu = xl.mean(axis=axes)
        var = ((xl - mu) ** 2).mean(axis=axes)
        n = xl.size // xl.shape[-1]
        m = self.momentum
        self.buffers["running_mean"] *= 1 - m
        self.buffers["running_mean"] += m * mu
        self.buffers["running_var"] *= 1 - m
        self.buffers["running_var"] += m * var * n / (n - 1)
    else:
        mu, var = self.buffers["running_mean"], self.buffers["running_var"]
    std = np.sqrt(var + self.eps)
    x_hat = (xl - mu) / std
    self.cache = (xl, mu, var, std, x_hat, self.training)
    out = x_hat * self.params["gamma"] + self.params["beta"]
    return np.moveaxis(out, -1, 1).astype(x.dtype)


def backward_chain_rule(self, dout):
    xl, mu, var, std, x_hat, training = self.cache
    dl = np.moveaxis(dout, 1, -1)
    axes = (0, 1, 2)
    self.grads["gamma"] = (dl * x_hat).sum(axis=axes)
    self.grads["beta"] = dl.sum(axis=axes)
    dx_hat = dl * self.params["gamma"]
    if not training:
        return np.moveaxis(dx_hat / std, -1, 1).astype(dout.dtype)
    n = xl.size // xl.shape[-1]
    dvar = (dx_hat * (xl - mu) * -0.5 * (var + self.eps) ** -1.5).sum(axis=axes)
    dmu = (-dx_hat / std).sum(axis=axes) + dvar * (-2 * (xl - mu)).mean(axis=axes)
    dx = dx_hat / std + dvar * 2 * (xl - mu) / n + dmu / n
    return np.moveaxis(dx, -1, 1).astype(dout.dtype)


BatchNorm2D.forward = forward_channels_last
BatchNorm2D.backward = backward_chain_rule
