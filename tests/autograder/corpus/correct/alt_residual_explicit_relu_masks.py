"""ResidualBlock with the ReLUs written out as masks, the skip added to the branch's dx last."""

import numpy as np

from .blocks import ResidualBlock

ENTRY = {"file": "blocks.py", "phases": (13,)}


def forward_with_masks(self, x):
    a = self.conv1.forward(x)
    h = np.where(a > 0, a, 0)
    z = self.conv2.forward(h) + x
    self.cache = (a > 0, z > 0)
    return np.where(z > 0, z, 0)


def backward_with_masks(self, dout):
    a_on, z_on = self.cache
    dz = np.where(z_on, dout, 0)
    dh = self.conv2.backward(dz)
    da = np.where(a_on, dh, 0)
    dx_branch = self.conv1.backward(da)
    return dx_branch + dz  # x reached the sum directly too


ResidualBlock.forward = forward_with_masks
ResidualBlock.backward = backward_with_masks
