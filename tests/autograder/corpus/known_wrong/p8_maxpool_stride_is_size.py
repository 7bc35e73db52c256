"""MaxPool2D.forward passes its size as the stride (max_pool_forward(x, self.size, self.size))."""

from .layers import MaxPool2D, max_pool_backward, max_pool_forward

ENTRY = {"phase": 8, "file": "layers.py", "place": "MaxPool2D(3, stride=1).forward out",
         "diagnosis": None}


def forward_stride_is_size(self, x):
    out, self.cache = max_pool_forward(x, self.size, self.size)  # the bug: self.stride
    return out


def backward_through_contract(self, dout):
    return max_pool_backward(dout, self.cache)


MaxPool2D.forward = forward_stride_is_size
MaxPool2D.backward = backward_through_contract
