"""softmax_cross_entropy returns the loss summed over the batch, not its mean."""

import numpy as np

ENTRY = {"phase": 7, "file": "layers.py", "place": "softmax_cross_entropy(",
         "diagnosis": "the loss is summed over the batch"}


def softmax_cross_entropy(logits, y):
    m = logits.max(axis=1, keepdims=True)
    log_probs = logits - m - np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
    rows = np.arange(len(y))
    dlogits = np.exp(log_probs)
    dlogits[rows, y] -= 1
    return float(-np.sum(log_probs[rows, y])), dlogits / len(y)  # the bug: np.mean
