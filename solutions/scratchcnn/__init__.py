"""scratchcnn: a convolutional network from scratch in NumPy.

Files, one per topic, in the order of the phases:
    conv.py    Phases 1-3  naive convolution, im2col + matmul, col2im + backward
    pool.py    Phases 4-5  max pooling forward and backward; Phase 10 (bonus) average pooling
    layers.py  Phases 6-8  flatten, dense, ReLU, softmax cross-entropy, layer classes
    model.py   Phase 8     the CNN container, SGD with momentum, the guide's architecture;
               Phase 11 (bonus) the receptive-field calculator
    train.py   Phase 9     the training loop
    blocks.py  Phases 12-13 (bonus) BatchNorm2D, Dropout, ResidualBlock; the average-pooling
               layers of Phase 10
"""
