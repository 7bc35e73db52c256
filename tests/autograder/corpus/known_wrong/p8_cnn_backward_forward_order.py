"""CNN.backward runs the layers in forward order instead of in reverse."""

from .model import CNN

ENTRY = {"phase": 8, "file": "model.py", "place": "dout must be 4-D", "diagnosis": None}


def backward_in_forward_order(self, dout):
    for layer in self.layers:  # the bug: reversed(self.layers)
        dout = layer.backward(dout)
    return dout


CNN.backward = backward_in_forward_order
