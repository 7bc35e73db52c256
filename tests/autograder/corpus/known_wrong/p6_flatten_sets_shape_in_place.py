"""flatten_forward sets x.shape instead of reshaping: the caller's array changes shape."""

ENTRY = {"phase": 6, "file": "layers.py", "place": "modified its argument 0 in place",
         "diagnosis": None}


def flatten_forward(x):
    shape = x.shape
    x.shape = (shape[0], -1)  # the bug: the caller's x is now (N, D)
    return x, shape


def flatten_backward(dout, cache):
    return dout.reshape(cache)
