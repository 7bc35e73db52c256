"""receptive_field multiplies the jump by the layer's stride before using it (off by one layer)."""

ENTRY = {"phase": 11, "file": "model.py", "place": "receptive_field(",
         "diagnosis": "the jump is multiplied by the layer's own stride before it is used"}


def receptive_field(layers):
    sizes, size, jump = [], 1, 1
    for _, kernel, stride in layers:
        jump *= stride  # the bug: after the size update
        size += (kernel - 1) * jump
        sizes.append(size)
    return sizes
