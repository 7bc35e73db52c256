"""The CNN container and its optimizer (Phase 8), and the guide's architecture.

    model = build_guide_cnn(rng=0)            # 225,034 parameters
    logits = model.forward(x)                 # x (N, 1, 28, 28) -> logits (N, 10)
    loss, dlogits = softmax_cross_entropy(logits, y)
    model.backward(dlogits)                   # fills model.grads
    SGD(lr=0.05, momentum=0.9).step(model.params, model.grads)
"""

import numpy as np

from ._checks import check_shape
from .layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU


class CNN:
    """A sequence of layers, run front to back and differentiated back to front.

    Parameters and gradients are exposed as flat dicts keyed "<layer index>.<name>" ("0.w",
    "0.b", "3.w", ...); the arrays are the layers' own, so updating them in place trains the model.
    """

    def __init__(self, layers):
        self.layers = list(layers)

    def __repr__(self):
        return "CNN([\n" + "".join(f"    {layer!r},\n" for layer in self.layers) + "])"

    @property
    def params(self):
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params.items()}

    @property
    def grads(self):
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.grads.items()}

    def num_parameters(self):
        return sum(p.size for p in self.params.values())

    def forward(self, x):
        """Phase 8: run x through every layer in order; return the last layer's output."""
        ### BEGIN SOLUTION
        for layer in self.layers:
            x = layer.forward(x)
        return x
        ### END SOLUTION

    def backward(self, dout):
        """Phase 8: run dout back through the layers in reverse order; return dL/dx."""
        ### BEGIN SOLUTION
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout
        ### END SOLUTION

    def summary(self, input_shape):
        """Rows (layer, output shape, parameter count) for an input of shape input_shape.

        Runs one forward pass on zeros of that shape (batch of one) to read the shapes.
        """
        x = np.zeros((1, *input_shape), dtype=np.float32)
        rows = []
        for layer in self.layers:
            x = layer.forward(x)
            rows.append((repr(layer), x.shape[1:], sum(p.size for p in layer.params.values())))
        return rows


class SGD:
    """Stochastic gradient descent with momentum, PyTorch's convention:

        v <- momentum * v + grad
        p <- p - lr * v

    One velocity per parameter name, created at the first step. `lr` may be changed between steps
    (learning-rate schedules).
    """

    def __init__(self, lr=0.01, momentum=0.9):
        if not lr > 0:
            raise ValueError(f"lr must be > 0 (got {lr})")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1) (got {momentum})")
        self.lr, self.momentum = lr, momentum
        self.velocity = {}

    def step(self, params, grads):
        """Phase 8: update every array of `params` in place from the same-named `grads`."""
        for name, p in params.items():
            check_shape(f"grads[{name!r}]", grads[name], p.shape)
        ### BEGIN SOLUTION
        for name, p in params.items():
            v = self.velocity.get(name)
            if v is None:
                v = self.velocity[name] = grads[name].astype(p.dtype)  # a copy, p's dtype
            else:  # in place: no new arrays in the step that runs once per batch
                v *= self.momentum
                v += grads[name]
            p -= self.lr * v
        ### END SOLUTION


def build_guide_cnn(rng=None, dtype=np.float32):
    """The guide's CNN for (N, 1, 28, 28) MNIST images -> (N, 10) logits; 225,034 parameters."""
    rng = np.random.default_rng(rng)
    return CNN([
        Conv2D(1, 32, 3, rng=rng, dtype=dtype), ReLU(), MaxPool2D(2, 2),
        Conv2D(32, 64, 3, rng=rng, dtype=dtype), ReLU(), MaxPool2D(2, 2),
        Flatten(),
        Dense(1600, 128, rng=rng, dtype=dtype), ReLU(),
        Dense(128, 10, rng=rng, dtype=dtype),
    ])
