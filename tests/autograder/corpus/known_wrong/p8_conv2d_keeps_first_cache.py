"""Conv2D.forward keeps the cache of its first call only, so backward after a second forward uses
the first batch."""

from .conv import conv2d_forward
from .layers import Conv2D

# place: the reference's Conv2D.backward raised on the first batch's cache
ENTRY = {"phase": 8, "file": "layers.py", "place": "conv2d_backward(dout, self.cache)",
         "diagnosis": None}


def forward_first_cache(self, x):
    out, cache = conv2d_forward(x, self.params["w"], self.params["b"], self.stride, self.padding)
    if getattr(self, "first_cache", None) is None:  # the bug: state from an earlier call
        self.first_cache = cache
    self.cache = self.first_cache
    return out


Conv2D.forward = forward_first_cache
