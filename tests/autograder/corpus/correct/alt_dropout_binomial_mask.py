"""Dropout with the mask drawn by rng.binomial and applied with np.where; eval mode copies x."""

import numpy as np

from .blocks import Dropout

ENTRY = {"file": "blocks.py", "phases": (13,)}


def forward_binomial(self, x):
    if not self.training:
        self.cache = None
        return x.copy()
    self.cache = self.rng.binomial(1, 1 - self.p, size=x.shape).astype(bool)
    return np.where(self.cache, x / (1 - self.p), 0).astype(x.dtype)


def backward_binomial(self, dout):
    if self.cache is None:
        return dout.copy()
    return np.where(self.cache, dout / (1 - self.p), 0).astype(dout.dtype)


Dropout.forward = forward_binomial
Dropout.backward = backward_binomial
