"""SGD.step hard-codes the guide's momentum 0.9 instead of using self.momentum."""

from .model import SGD

ENTRY = {"phase": 8, "file": "model.py", "place": "SGD(lr=0.1, momentum=", "diagnosis": None}


def step_with_fixed_momentum(self, params, grads):
    for name, p in params.items():
        v = 0.9 * self.velocity.get(name, 0) + grads[name]  # the bug: self.momentum
        self.velocity[name] = v
        p -= self.lr * v


SGD.step = step_with_fixed_momentum
