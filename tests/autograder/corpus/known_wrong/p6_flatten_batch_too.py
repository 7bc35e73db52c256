"""flatten_forward flattens the batch axis too: (N, C, H, W) -> (N*C*H*W,)."""

ENTRY = {"phase": 6, "file": "layers.py", "place": "flatten_forward(", "diagnosis": None}


def flatten_forward(x):
    return x.ravel(), x.shape  # the bug: x.reshape(len(x), -1)
