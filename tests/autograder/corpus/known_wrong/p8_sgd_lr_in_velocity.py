"""SGD.step folds the learning rate into the velocity (v = m v + lr g; p -= v): the same as
PyTorch's convention while lr is constant, not once a schedule changes it between steps."""

from .model import SGD

ENTRY = {"phase": 8, "file": "model.py", "place": "at learning rates",
         "diagnosis": "the learning rate is folded into the velocity"}


def step_with_lr_in_velocity(self, params, grads):
    for name, p in params.items():
        v = self.momentum * self.velocity.get(name, 0) + self.lr * grads[name]  # the bug
        self.velocity[name] = v
        p -= v


SGD.step = step_with_lr_in_velocity
