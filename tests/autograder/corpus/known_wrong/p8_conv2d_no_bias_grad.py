"""Conv2D.backward stores grads['w'] but never grads['b']."""

from .layers import Conv2D, conv2d_backward, conv2d_forward

ENTRY = {"phase": 8, "file": "layers.py", "place": "returned no grads.b", "diagnosis": None}


def forward_through_contract(self, x):
    out, self.cache = conv2d_forward(x, self.params["w"], self.params["b"], self.stride,
                                     self.padding)
    return out


def backward_without_db(self, dout):
    dx, dw, _ = conv2d_backward(dout, self.cache)
    self.grads["w"] = dw  # the bug: db is dropped
    return dx


Conv2D.forward = forward_through_contract
Conv2D.backward = backward_without_db
