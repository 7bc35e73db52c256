"""Dropout zeroes values with probability p but does not scale the kept ones by 1/(1-p)."""

from .blocks import Dropout

ENTRY = {"phase": 13, "file": "blocks.py", "place": "Dropout(p=0.2).forward out",
         "diagnosis": "kept values are not rescaled"}


def forward_not_rescaled(self, x):
    if not self.training:
        self.cache = None
        return x
    self.cache = self.rng.random(x.shape) >= self.p  # the bug: no / (1 - p)
    return x * self.cache


def backward_not_rescaled(self, dout):
    return dout if self.cache is None else dout * self.cache


Dropout.forward = forward_not_rescaled
Dropout.backward = backward_not_rescaled
