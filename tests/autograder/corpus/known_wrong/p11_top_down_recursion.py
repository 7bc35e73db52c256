"""receptive_field applies the top-down recursion r = (r - 1) * stride + kernel bottom-up."""

ENTRY = {"phase": 11, "file": "model.py", "place": "receptive_field(",
         "diagnosis": "r = (r - 1) * stride + kernel is the recursion from the top layer down"}


def receptive_field(layers):
    sizes, size = [], 1
    for _, kernel, stride in layers:
        size = (size - 1) * stride + kernel  # the bug: that runs from the last layer down
        sizes.append(size)
    return sizes
