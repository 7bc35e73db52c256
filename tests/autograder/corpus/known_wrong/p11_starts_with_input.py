"""receptive_field returns the input's r_0 = 1 too: one entry more than there are layers."""

ENTRY = {"phase": 11, "file": "model.py", "place": "receptive_field(",
         "diagnosis": "the list starts with the input's r_0 = 1"}


def receptive_field(layers):
    sizes, jump = [1], 1  # the bug: the list must start with the first layer's size
    for _, kernel, stride in layers:
        sizes.append(sizes[-1] + (kernel - 1) * jump)
        jump *= stride
    return sizes
