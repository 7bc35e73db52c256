"""dense_backward returns dw transposed, (M, D) instead of w's (D, M)."""

ENTRY = {"phase": 7, "file": "layers.py", "place": ("dense_backward(", ") dw: expected shape"),
         "diagnosis": None}


def dense_backward(dout, cache):
    x, w = cache
    return dout @ w.T, dout.T @ x, dout.sum(axis=0)  # the bug: x.T @ dout
