"""softmax_cross_entropy subtracts each row's maximum from the logits in place."""

import numpy as np

ENTRY = {"phase": 7, "file": "layers.py", "place": "softmax_cross_entropy(logits",
         "diagnosis": None}


def softmax_cross_entropy(logits, y):
    logits -= logits.max(axis=1, keepdims=True)  # the bug: the caller's logits change
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    n = len(y)
    dlogits = np.exp(log_probs)
    dlogits[np.arange(n), y] -= 1
    return float(-log_probs[np.arange(n), y].mean()), dlogits / n
