"""ResidualBlock applies the last ReLU to the branch, then adds x: relu(branch) + x."""

import numpy as np

from .blocks import ResidualBlock

ENTRY = {"phase": 13, "file": "blocks.py", "place": "ResidualBlock(3).forward out",
         "diagnosis": "ReLU is applied to the branch before the skip is added"}


def forward_relu_then_add(self, x):
    hidden = np.maximum(self.conv1.forward(x), 0)
    branch = self.conv2.forward(hidden)
    self.cache = (hidden > 0, branch > 0)
    return np.maximum(branch, 0) + x  # the bug: relu(branch + x) is the block


def backward_relu_then_add(self, dout):
    hidden_on, branch_on = self.cache
    dhidden = self.conv2.backward(dout * branch_on) * hidden_on
    return self.conv1.backward(dhidden) + dout


ResidualBlock.forward = forward_relu_then_add
ResidualBlock.backward = backward_relu_then_add
