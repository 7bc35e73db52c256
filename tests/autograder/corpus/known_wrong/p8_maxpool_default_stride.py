"""MaxPool2D.forward leaves out its stride: max_pool_forward(x, self.size) pools with stride 2."""

from .layers import MaxPool2D, max_pool_backward, max_pool_forward

ENTRY = {"phase": 8, "file": "layers.py", "place": "MaxPool2D(3, stride=1).forward out",
         "diagnosis": None}


def forward_default_stride(self, x):
    out, self.cache = max_pool_forward(x, self.size)  # the bug: self.stride is not passed
    return out


def backward_through_contract(self, dout):
    return max_pool_backward(dout, self.cache)


MaxPool2D.forward = forward_default_stride
MaxPool2D.backward = backward_through_contract
