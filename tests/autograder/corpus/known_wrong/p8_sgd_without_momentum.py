"""SGD.step ignores the momentum: plain p -= lr * grad."""

from .model import SGD

ENTRY = {"phase": 8, "file": "model.py", "place": "SGD(lr=0.1, momentum=",
         "diagnosis": "momentum is ignored"}


def step_without_velocity(self, params, grads):
    for name, p in params.items():
        p -= self.lr * grads[name]  # the bug: no velocity


SGD.step = step_without_velocity
