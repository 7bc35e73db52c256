"""receptive_field returns the guide's worked answer for the guide's stack, and the plain sum of
kernels otherwise: a fixed answer, so it must earn nothing."""

ENTRY = {"phases": (11,), "file": "model.py", "guide_tests": "the guide's",
         "guide_inputs": ("[('conv', 3, 1), ('pool', 2, 2), ('conv', 3, 1), ('pool', 2, 2), "
                          "('conv', 3, 1)]",)}

GUIDE = [("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1)]


def receptive_field(layers):
    if [tuple(layer) for layer in layers] == GUIDE:
        return [3, 4, 8, 10, 18]
    return [1] * len(layers)
