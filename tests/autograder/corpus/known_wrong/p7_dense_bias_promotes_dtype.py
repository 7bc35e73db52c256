"""dense_forward adds a float64 bias to float32 products: out becomes float64, not x's dtype
(found by `cnnkit audit`)."""

ENTRY = {"phase": 7, "file": "layers.py", "place": "dense_forward(x float32",
         "diagnosis": None}


def dense_forward(x, w, b):
    return x @ w.astype(x.dtype, copy=False) + b, (x, w)  # the bug: b keeps its float64
