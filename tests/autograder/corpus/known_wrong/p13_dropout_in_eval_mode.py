"""Dropout ignores `training`: it drops values in eval mode too."""

from .blocks import Dropout

ENTRY = {"phase": 13, "file": "blocks.py", "place": "Dropout(p=0.5).forward out in eval mode",
         "diagnosis": None}


def forward_always_dropping(self, x):
    self.cache = (self.rng.random(x.shape) >= self.p) / (1 - self.p)  # the bug: eval drops too
    return (x * self.cache).astype(x.dtype)


def backward_through_mask(self, dout):
    return (dout * self.cache).astype(dout.dtype)


Dropout.forward = forward_always_dropping
Dropout.backward = backward_through_mask
