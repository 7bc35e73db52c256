"""Dense by einsum, ReLU by np.where, softmax cross-entropy by log-sum-exp."""

import numpy as np

ENTRY = {"file": "layers.py", "phases": (7,)}


def dense_forward(x, w, b):
    # out keeps x's dtype (the contract) when w and b are of another dtype
    return (np.einsum("nd,dm->nm", x, w) + b).astype(x.dtype, copy=False), (x, w)


def dense_backward(dout, cache):
    x, w = cache
    return np.einsum("nm,dm->nd", dout, w), np.einsum("nd,nm->dm", x, dout), np.sum(dout, axis=0)


def relu_forward(x):
    positive = x > 0
    return np.where(positive, x, 0).astype(x.dtype), positive


def relu_backward(dout, cache):
    return np.where(cache, dout, 0).astype(dout.dtype)


def softmax_cross_entropy(logits, y):
    top = logits.max(axis=1)
    logsumexp = top + np.log(np.exp(logits - top[:, None]).sum(axis=1))
    rows = np.arange(len(y))
    dlogits = np.exp(logits - logsumexp[:, None])
    dlogits[rows, y] -= 1
    return float(np.mean(logsumexp - logits[rows, y])), dlogits / len(y)
