"""SGD keeps its velocities in a class attribute: every SGD shares them, so a second optimizer
starts with the first one's momentum."""

from .model import SGD

ENTRY = {"phase": 8, "file": "model.py", "place": "a second SGD from the same start",
         "diagnosis": None}

SGD.shared_velocity = {}


def init_shared(self, lr=0.01, momentum=0.9):
    self.lr, self.momentum = lr, momentum
    self.velocity = SGD.shared_velocity  # the bug: one dict for every instance


SGD.__init__ = init_shared
