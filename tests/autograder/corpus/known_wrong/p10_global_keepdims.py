"""global_avg_pool_forward keeps the pooled axes: out is (N, C, 1, 1), not (N, C)."""

ENTRY = {"phase": 10, "file": "pool.py", "place": "global_avg_pool_forward(",
         "diagnosis": "out keeps the H, W axes"}


def global_avg_pool_forward(x):
    return x.mean(axis=(2, 3), keepdims=True), x.shape  # the bug: keepdims
