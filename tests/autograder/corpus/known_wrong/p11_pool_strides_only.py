"""receptive_field lets only pools multiply the jump: strided convolutions count as stride 1."""

ENTRY = {"phase": 11, "file": "model.py", "place": "receptive_field(",
         "diagnosis": "the strides of conv layers are ignored"}


def receptive_field(layers):
    sizes, size, jump = [], 1, 1
    for kind, kernel, stride in layers:
        size += (kernel - 1) * jump
        if kind == "pool":  # the bug: every layer's stride counts
            jump *= stride
        sizes.append(size)
    return sizes
