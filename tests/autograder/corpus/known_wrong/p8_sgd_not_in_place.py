"""SGD.step rebinds params[name] to a new array instead of updating it in place."""

from .model import SGD

ENTRY = {"phase": 8, "file": "model.py", "place": "SGD(lr=0.1, momentum=", "diagnosis": None}


def step_rebinding(self, params, grads):
    for name, p in params.items():
        v = self.momentum * self.velocity.get(name, 0) + grads[name]
        self.velocity[name] = v
        params[name] = p - self.lr * v  # the bug: a CNN's params dict is rebuilt on every access


SGD.step = step_rebinding
