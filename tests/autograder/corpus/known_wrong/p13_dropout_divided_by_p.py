"""Dropout scales the kept values by 1/p instead of 1/(1-p)."""

import numpy as np

from .blocks import Dropout

ENTRY = {"phase": 13, "file": "blocks.py", "place": "Dropout(p=0.2).forward out",
         "diagnosis": "kept values are divided by p"}


def forward_divided_by_p(self, x):
    if not self.training or self.p == 0:
        self.cache = np.ones_like(x)
    else:
        self.cache = (self.rng.random(x.shape) >= self.p) / self.p  # the bug: 1 - p
    return (x * self.cache).astype(x.dtype)


def backward_with_cached_mask(self, dout):
    return (dout * self.cache).astype(dout.dtype)


Dropout.forward = forward_divided_by_p
Dropout.backward = backward_with_cached_mask
