"""softmax_cross_entropy exponentiates the raw logits: exp(1000) overflows to inf."""

import numpy as np

ENTRY = {"phase": 7, "file": "layers.py",
         "place": "softmax_cross_entropy(logits (2, 3), max |logit| 1000)", "diagnosis": None}


def softmax_cross_entropy(logits, y):
    exp = np.exp(logits)  # the bug: np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = exp / exp.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = -np.log(probs[rows, y]).mean()
    probs[rows, y] -= 1
    return float(loss), probs / len(y)
