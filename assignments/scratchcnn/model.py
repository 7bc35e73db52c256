"""The CNN container and its optimizer (Phase 8), the guide's architecture, and the
receptive-field calculator (bonus Phase 11).

    model = build_guide_cnn(rng=0)            # 225,034 parameters
    logits = model.forward(x)                 # x (N, 1, 28, 28) -> logits (N, 10)
    loss, dlogits = softmax_cross_entropy(logits, y)
    model.backward(dlogits)                   # fills model.grads
    SGD(lr=0.05, momentum=0.9).step(model.params, model.grads)

Rules the grader enforces for every function and method you write here (its hidden tests check
them): an output has the dtype of the input it comes from (float32 in, float32 out); inputs
(x, w, b, dout, caches) are never modified in place; a cache is opaque, only passed back to
the matching backward; SGD.step updates the arrays of params in place (the model's own arrays).
"""

import numpy as np

from ._checks import check_positive_int, check_shape
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

    @property
    def buffers(self):
        """The layers' non-trained state (BatchNorm2D's running statistics), keyed like params."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers)
                for k, v in layer.buffers.items()}

    def train(self, mode=True):
        """Set `training` on every layer, and on the inner layers of blocks; return self."""
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"mode must be a bool (got {type(mode).__name__} {mode!r})")
        for layer in self.layers:
            set_training(layer, bool(mode))
        return self

    def eval(self):
        """Evaluation mode (BatchNorm2D uses its running statistics, Dropout passes x through)."""
        return self.train(False)

    def num_parameters(self):
        return sum(p.size for p in self.params.values())

    def forward(self, x):
        """Phase 8: run x through every layer in order; return the last layer's output."""
        raise NotImplementedError('Phase 8 (conv/pool layers, CNN model and SGD): implement CNN.forward in scratchcnn/model.py')

    def backward(self, dout):
        """Phase 8: run dout back through the layers in reverse order; return dL/dx."""
        raise NotImplementedError('Phase 8 (conv/pool layers, CNN model and SGD): implement CNN.backward in scratchcnn/model.py')

    def summary(self, input_shape):
        """Rows (layer, output shape, parameter count) for an input of shape input_shape.

        Runs one forward pass on zeros of that shape (batch of one) to read the shapes; the
        buffers (BatchNorm2D's running statistics, which that pass moves) are put back after.
        """
        saved = {name: value.copy() for name, value in self.buffers.items()}
        x = np.zeros((1, *input_shape), dtype=np.float32)
        rows = []
        for layer in self.layers:
            x = layer.forward(x)
            rows.append((repr(layer), x.shape[1:], sum(p.size for p in layer.params.values())))
        for name, value in self.buffers.items():
            value[...] = saved[name]
        return rows


def set_training(layer, mode):
    """layer.training = mode, recursively through a block's inner layers (its `layers` dict)."""
    layer.training = mode
    for inner in getattr(layer, "layers", {}).values():
        set_training(inner, mode)


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
            if name not in grads:
                raise ValueError(f"grads has no {name!r} (it has {sorted(grads)}): the backward "
                                 f"of layer {name.split('.')[0]} must store the gradient of each "
                                 f"of its params in its self.grads, under the same name")
            check_shape(f"grads[{name!r}]", grads[name], p.shape)
        raise NotImplementedError('Phase 8 (conv/pool layers, CNN model and SGD): implement SGD.step in scratchcnn/model.py')


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


def build_guide_cnn_bn(rng=None, dtype=np.float32):
    """The guide's CNN with a BatchNorm2D after each convolution (before its ReLU): (N, 1, 28, 28)
    -> (N, 10) logits; 225,226 parameters (225,034 + gamma and beta of 32 and 64 channels)."""
    # Imported here: a student's unfinished bonus blocks.py must not break the core model.
    from .blocks import BatchNorm2D

    rng = np.random.default_rng(rng)
    return CNN([
        Conv2D(1, 32, 3, rng=rng, dtype=dtype), BatchNorm2D(32, dtype=dtype), ReLU(),
        MaxPool2D(2, 2),
        Conv2D(32, 64, 3, rng=rng, dtype=dtype), BatchNorm2D(64, dtype=dtype), ReLU(),
        MaxPool2D(2, 2),
        Flatten(),
        Dense(1600, 128, rng=rng, dtype=dtype), ReLU(),
        Dense(128, 10, rng=rng, dtype=dtype),
    ])


def check_layer_specs(layers):
    """Check that `layers` is a list or tuple of (kind, kernel, stride) entries: kind "conv" or
    "pool", kernel and stride ints >= 1."""
    if not isinstance(layers, (list, tuple)):
        raise TypeError(f"layers must be a list of (kind, kernel, stride) "
                        f"(got {type(layers).__name__})")
    for i, layer in enumerate(layers):
        if not (isinstance(layer, (list, tuple)) and len(layer) == 3):
            raise ValueError(f"layers[{i}] must be (kind, kernel, stride) (got {layer!r})")
        kind, kernel, stride = layer
        if not (isinstance(kind, str) and kind in ("conv", "pool")):
            raise ValueError(f"layers[{i}] must be (kind, kernel, stride) with kind 'conv' or "
                             f"'pool' (got kind {kind!r})")
        check_positive_int(f"layers[{i}] kernel", kernel)
        check_positive_int(f"layers[{i}] stride", stride)


def receptive_field(layers):
    """Phase 11: the receptive field of one unit after each layer, in input pixels along a side.

    Args:
        layers: sequence of (kind, kernel, stride), kind "conv" or "pool", kernel and stride
            ints >= 1, e.g. [("conv", 3, 1), ("pool", 2, 2)]. Padding does not change the size.
    Returns:
        list of len(layers) ints: r_i = r_{i-1} + (kernel_i - 1) * j_{i-1}, where the jump
        j_i = j_{i-1} * stride_i is the distance in input pixels between neighbouring units of
        layer i (r_0 = j_0 = 1). The guide's conv3, pool2/2, conv3, pool2/2, conv3 gives
        [3, 4, 8, 10, 18].
    """
    check_layer_specs(layers)
    raise NotImplementedError('Phase 11 (receptive-field calculator): implement receptive_field in scratchcnn/model.py')
