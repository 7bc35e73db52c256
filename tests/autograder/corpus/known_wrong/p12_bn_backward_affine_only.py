"""BatchNorm2D's training backward treats the batch mean and variance as constants."""

from .blocks import BatchNorm2D

ENTRY = {"phase": 12, "file": "blocks.py", "place": "backward dx (training mode)",
         "diagnosis": "dx ignores the batch statistics"}


def backward_affine_only(self, dout):
    x_hat, scale, _ = self.cache
    self.grads["gamma"] = (dout * x_hat).sum(axis=(0, 2, 3))
    self.grads["beta"] = dout.sum(axis=(0, 2, 3))
    return dout * scale.reshape(1, -1, 1, 1)  # the bug: right in eval mode only


BatchNorm2D.backward = backward_affine_only
