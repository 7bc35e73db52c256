"""Dropout's backward draws a new mask instead of reusing forward's."""

from .blocks import Dropout

ENTRY = {"phase": 13, "file": "blocks.py", "place": "backward must reuse forward's mask",
         "diagnosis": None}


def backward_new_mask(self, dout):
    if not self.training or self.p == 0:
        return dout
    keep = self.rng.random(dout.shape) >= self.p  # the bug: a second draw
    return dout * keep / (1 - self.p)


Dropout.backward = backward_new_mask
