"""receptive_field by the top-down recursion on every prefix of the layers; returns a tuple."""

ENTRY = {"file": "model.py", "phases": (11,)}


def field_of_last(layers):
    size = 1
    for _, kernel, stride in reversed(layers):
        size = (size - 1) * stride + kernel
    return size


def receptive_field(layers):
    return tuple(field_of_last(layers[:end]) for end in range(1, len(layers) + 1))
