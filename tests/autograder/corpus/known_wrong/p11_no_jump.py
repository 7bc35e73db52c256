"""receptive_field adds kernel - 1 per layer and forgets the jump (the strides below)."""

ENTRY = {"phase": 11, "file": "model.py", "place": "receptive_field(",
         "diagnosis": "the jump is left out"}


def receptive_field(layers):
    sizes, size = [], 1
    for _, kernel, _ in layers:
        size += kernel - 1  # the bug: (kernel - 1) * jump
        sizes.append(size)
    return sizes
