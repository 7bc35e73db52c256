"""CNN by functools.reduce and an index loop; SGD with zero-initialised velocities, np.subtract."""

import functools

import numpy as np

from .model import CNN, SGD

ENTRY = {"file": "model.py", "phases": (8,)}


def forward_by_reduce(self, x):
    return functools.reduce(lambda out, layer: layer.forward(out), self.layers, x)


def backward_by_index(self, dout):
    for index in range(len(self.layers) - 1, -1, -1):
        dout = self.layers[index].backward(dout)
    return dout


def step_with_zero_velocity(self, params, grads):
    for name, p in params.items():
        v = self.velocity.setdefault(name, np.zeros_like(p))
        v *= self.momentum
        v += grads[name]
        np.subtract(p, self.lr * v, out=p)


CNN.forward = forward_by_reduce
CNN.backward = backward_by_index
SGD.step = step_with_zero_velocity
