"""scratchcnn: a convolutional network from scratch in NumPy.

Files, one per topic, in the order of the phases:
    conv.py    Phases 1-3  naive convolution, im2col + matmul, col2im + backward
    pool.py    Phases 4-5  max pooling forward and backward
    layers.py  Phases 6-8  flatten, dense, ReLU, softmax cross-entropy, layer classes
    model.py   Phase 8     the CNN container, SGD with momentum, the guide's architecture
    train.py   Phase 9     the training loop
"""
