"""SGD.step keeps the first gradient array itself as the velocity and updates it in place, so
the optimizer writes into the gradients it is given."""

from .model import SGD

ENTRY = {"phase": 8, "file": "model.py", "place": "changed grads", "diagnosis": None}


def step_into_the_gradient(self, params, grads):
    for name, p in params.items():
        v = self.velocity.get(name)
        if v is None:
            v = self.velocity[name] = grads[name]  # the bug: no copy
        else:
            v *= self.momentum
            v += grads[name]
        p -= self.lr * v


SGD.step = step_into_the_gradient
