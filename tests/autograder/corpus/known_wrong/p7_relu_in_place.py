"""relu_forward clips x in place (x[x < 0] = 0) and returns it: the caller's input is changed."""

ENTRY = {"phase": 7, "file": "layers.py", "place": "relu_forward(x", "diagnosis": None}


def relu_forward(x):
    x[x < 0] = 0  # the bug: in place
    return x, x > 0
