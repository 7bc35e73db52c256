"""The reference's bonus layers (solutions/scratchcnn/blocks.py) beyond the public tests.

BatchNorm2D against a per-channel float64 loop of its definition and, when PyTorch is installed,
against torch.nn.BatchNorm2d; Dropout's masks, statistics and seeding; ResidualBlock's params
and grads; the CNN's train/eval modes and buffers; argument errors.
"""

import numpy as np
import pytest
from scratchcnn import blocks
from scratchcnn.model import CNN, SGD, build_guide_cnn_bn
from test_reference import loops_in

from cnnkit.autograder.suites.common import expect_gradient, numerical_gradient

TOLERANCE = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=1e-5, atol=1e-5)}
SHAPES = [(4, 3, 5, 6), (1, 2, 3, 1), (7, 1, 1, 1)]  # N = 1, H = W = 1, one channel


def random_batchnorm(rng, channels, dtype, **kwargs):
    layer = blocks.BatchNorm2D(channels, dtype=dtype, **kwargs)
    layer.params["gamma"][:] = rng.uniform(0.5, 2, channels) * rng.choice([-1, 1], channels)
    layer.params["beta"][:] = rng.standard_normal(channels)
    layer.buffers["running_mean"][:] = rng.standard_normal(channels)
    layer.buffers["running_var"][:] = rng.uniform(0.5, 2, channels)
    return layer


def batchnorm_loop(xs, gamma, beta, mean, var, momentum, eps):
    """The definition, one channel and one value at a time in float64: the outputs of training
    steps on each x of xs, and the running mean and variance after them."""
    outs = [np.zeros(x.shape) for x in xs]
    mean, var = [float(v) for v in mean], [float(v) for v in var]
    for x, out in zip(xs, outs):
        for c in range(x.shape[1]):
            values = [float(v) for v in x[:, c].ravel()]
            m = sum(values) / len(values)
            squares = sum((v - m) ** 2 for v in values)
            for index in np.ndindex(out[:, c].shape):
                x_hat = (x[:, c][index] - m) / (squares / len(values) + eps) ** 0.5
                out[:, c][index] = gamma[c] * x_hat + beta[c]
            # the running variance takes the unbiased variance (PyTorch's convention)
            mean[c] = (1 - momentum) * mean[c] + momentum * m
            var[c] = (1 - momentum) * var[c] + momentum * squares / (len(values) - 1)
    return outs, np.array(mean), np.array(var)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES[:2])
def test_batchnorm_training_matches_the_definition(shape, dtype):
    rng = np.random.default_rng(0)
    layer = random_batchnorm(rng, shape[1], dtype, momentum=0.3, eps=1e-3)
    start = {k: v.astype(np.float64) for k, v in {**layer.params, **layer.buffers}.items()}
    xs = [(rng.standard_normal(shape) * 2 + 1).astype(dtype) for _ in range(3)]
    expected, mean, var = batchnorm_loop(xs, start["gamma"], start["beta"], start["running_mean"],
                                         start["running_var"], 0.3, 1e-3)
    for x, out in zip(xs, expected):
        got = layer.forward(x)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, out, **TOLERANCE[dtype])
    np.testing.assert_allclose(layer.buffers["running_mean"], mean, **TOLERANCE[dtype])
    np.testing.assert_allclose(layer.buffers["running_var"], var, **TOLERANCE[dtype])


def test_batchnorm_eval_mode_normalises_with_running_statistics_and_keeps_them():
    rng = np.random.default_rng(1)
    layer = random_batchnorm(rng, 3, np.float64, eps=1e-2)
    before = {k: v.copy() for k, v in layer.buffers.items()}
    layer.training = False
    x = rng.standard_normal((2, 3, 4, 4))
    column = {k: v.reshape(1, -1, 1, 1) for k, v in {**layer.params, **before}.items()}
    expected = (column["gamma"] * (x - column["running_mean"])
                / np.sqrt(column["running_var"] + 1e-2) + column["beta"])
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12)
    for name, value in before.items():
        np.testing.assert_array_equal(layer.buffers[name], value)
    # eval mode works on one value per channel, which training mode refuses
    assert layer.forward(x[:1, :, :1, :1]).shape == (1, 3, 1, 1)


def expect_numerical_gradients(layer, x, dout, set_param=None):
    """layer.backward's dx and grads agree with central differences of forward;
    set_param(name, array) replaces one of its params (default: layer.params[name] = array)."""
    layer.forward(x)
    dx = layer.backward(dout)
    grads = {k: v.copy() for k, v in layer.grads.items()}
    expect_gradient(dx, numerical_gradient(layer.forward, x, dout), "dx")
    for name, p in layer.params.items():
        def with_param(value, name=name):
            if set_param is None:
                layer.params[name] = value
            else:
                set_param(name, value)
            return layer.forward(x)
        expect_gradient(grads[name], numerical_gradient(with_param, p.copy(), dout), name)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_batchnorm_backward_matches_numerical_gradients(shape, training):
    rng = np.random.default_rng(2)
    layer = random_batchnorm(rng, shape[1], np.float64)
    layer.training = training
    x, dout = rng.standard_normal(shape), rng.standard_normal(shape)
    expect_numerical_gradients(layer, x, dout)


def test_batchnorm_float32_agrees_with_float64_on_a_large_batch():
    """Sums over 43,264 values per channel (the guide's first layer, batch 64) lose no more
    than a few float32 roundings: the statistics accumulate in float64."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((64, 4, 26, 26)) * 3 + 5).astype(np.float32)
    dout = rng.standard_normal(x.shape).astype(np.float32)
    results = []
    for dtype in (np.float32, np.float64):
        layer = blocks.BatchNorm2D(4, dtype=dtype)
        results.append((layer.forward(x.astype(dtype)), layer.backward(dout.astype(dtype)),
                        layer.grads["gamma"]))
    for low, high in zip(*results):
        assert low.dtype == np.float32
        assert np.abs(low - high).max() <= 1e-6 * np.abs(high).max()


def test_batchnorm_leaves_its_inputs_unmodified_and_keeps_its_buffer_arrays():
    rng = np.random.default_rng(4)
    layer = random_batchnorm(rng, 2, np.float32)
    arrays = dict(layer.buffers)
    x, dout = (rng.standard_normal((3, 2, 2, 2)).astype(np.float32) for _ in range(2))
    copies = (x.copy(), dout.copy())
    layer.forward(x)
    layer.backward(dout)
    assert np.array_equal(x, copies[0]) and np.array_equal(dout, copies[1])
    assert all(layer.buffers[k] is v for k, v in arrays.items())  # updated in place


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_matches_pytorch(training):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    ours = random_batchnorm(rng, 3, np.float64, momentum=0.3, eps=1e-3)
    theirs = torch.nn.BatchNorm2d(3, momentum=0.3, eps=1e-3, dtype=torch.float64)
    with torch.no_grad():
        for name, target in [("gamma", theirs.weight), ("beta", theirs.bias)]:
            target.copy_(torch.from_numpy(ours.params[name]))
        for name, target in [("running_mean", theirs.running_mean),
                             ("running_var", theirs.running_var)]:
            target.copy_(torch.from_numpy(ours.buffers[name]))
    ours.training = training
    theirs.train(training)
    for step in range(2):
        x, dout = rng.standard_normal((4, 3, 5, 2)), rng.standard_normal((4, 3, 5, 2))
        x_torch = torch.from_numpy(x).requires_grad_()
        out_torch = theirs(x_torch)
        out_torch.backward(torch.from_numpy(dout))
        np.testing.assert_allclose(ours.forward(x), out_torch.detach().numpy(), rtol=1e-10)
        np.testing.assert_allclose(ours.backward(dout), x_torch.grad.numpy(), rtol=1e-8,
                                   atol=1e-12)
        np.testing.assert_allclose(ours.grads["gamma"], theirs.weight.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(ours.grads["beta"], theirs.bias.grad.numpy(), rtol=1e-10)
        theirs.zero_grad()
    np.testing.assert_allclose(ours.buffers["running_mean"], theirs.running_mean.numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(ours.buffers["running_var"], theirs.running_var.numpy(),
                               rtol=1e-12)


def test_dropout_mask_is_the_contracts_and_backward_reuses_it():
    x = np.random.default_rng(6).standard_normal((3, 4, 5)).astype(np.float32)
    layer = blocks.Dropout(p=0.3, rng=7)
    out = layer.forward(x)
    keep = np.random.default_rng(7).random(x.shape) >= 0.3
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.where(keep, x / 0.7, 0), rtol=1e-6)
    dout = np.ones_like(x)
    np.testing.assert_allclose(layer.backward(dout), np.where(keep, 1 / 0.7, 0), rtol=1e-6)


def test_dropout_seed_repeats_masks_and_calls_draw_new_ones():
    x = np.ones((50, 40))
    first, second = blocks.Dropout(0.5, rng=8), blocks.Dropout(0.5, rng=8)
    masks = [first.forward(x) for _ in range(3)]
    assert all(np.array_equal(m, second.forward(x)) for m in masks)
    assert not np.array_equal(masks[0], masks[1])
    generator = np.random.default_rng(9)  # a Generator is used as it is, not copied
    blocks.Dropout(0.5, rng=generator).forward(x)
    assert not np.array_equal(generator.random(3), np.random.default_rng(9).random(3))


@pytest.mark.parametrize("p", [0.05, 0.5, 0.9])
def test_dropout_keeps_the_expectation(p):
    x = np.full((200, 500), 2.0)
    out = blocks.Dropout(p, rng=10).forward(x)
    dropped = np.mean(out == 0)
    sigma = np.sqrt(p * (1 - p) / x.size)
    assert abs(dropped - p) < 5 * sigma
    # the mean of x * mask is 2 (1 - dropped) / (1 - p): within 5 sigma of 2 as well
    assert abs(out.mean() - 2) < 5 * 2 * sigma / (1 - p)


def test_dropout_eval_and_p0_pass_through_without_drawing():
    x = np.arange(6.0).reshape(2, 3)
    layer = blocks.Dropout(0.0, rng=11)
    assert layer.forward(x) is x and layer.backward(x) is x
    state = layer.rng.bit_generator.state
    layer = blocks.Dropout(0.4, rng=11)
    layer.training = False
    assert layer.forward(x) is x and layer.backward(x) is x
    assert layer.rng.bit_generator.state == state  # nothing drawn in eval mode


def test_residual_block_params_and_grads_are_the_inner_convolutions_arrays():
    block = blocks.ResidualBlock(2, rng=12)
    names = ["conv1.b", "conv1.w", "conv2.b", "conv2.w"]
    assert sorted(block.params) == names
    assert block.params["conv2.w"] is block.conv2.params["w"]
    assert block.layers == {"conv1": block.conv1, "conv2": block.conv2}
    assert block.buffers == {} and block.grads == {}
    x = np.random.default_rng(13).standard_normal((2, 2, 5, 4)).astype(np.float32)
    out = block.forward(x)
    dx = block.backward(np.ones_like(out))
    assert out.dtype == dx.dtype == np.float32 and out.shape == dx.shape == x.shape
    assert sorted(block.grads) == names
    assert block.grads["conv1.w"] is block.conv1.grads["w"]
    model = CNN([block])
    before = block.conv1.params["w"].copy()
    SGD(lr=0.1).step(model.params, model.grads)  # updates the convolution's own array
    np.testing.assert_allclose(block.conv1.params["w"], before - 0.1 * block.conv1.grads["w"])


def test_residual_block_backward_matches_numerical_gradients():
    rng = np.random.default_rng(14)
    block = blocks.ResidualBlock(3, rng=15, dtype=np.float64)
    x, dout = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 4, 5))

    def set_param(name, value):  # a block's params are its inner layers'
        inner, key = name.split(".")
        block.layers[inner].params[key] = value

    expect_numerical_gradients(block, x, dout, set_param)


def test_cnn_train_and_eval_reach_every_layer_and_block():
    model = CNN([blocks.BatchNorm2D(2), blocks.ResidualBlock(2), blocks.Dropout(0.5)])
    inner = list(model.layers[1].layers.values())
    assert model.eval() is model
    assert not any(layer.training for layer in model.layers + inner)
    assert model.train() is model
    assert all(layer.training for layer in model.layers + inner)


def test_guide_cnn_bn_shapes_parameters_and_buffers():
    model = build_guide_cnn_bn(rng=0)
    assert model.num_parameters() == 225_226
    assert sorted(model.buffers) == ["1.running_mean", "1.running_var", "5.running_mean",
                                     "5.running_var"]
    assert model.buffers["5.running_var"] is model.layers[5].buffers["running_var"]
    x = np.random.default_rng(16).random((3, 1, 28, 28), dtype=np.float32)
    logits = model.forward(x)
    assert logits.shape == (3, 10) and logits.dtype == np.float32
    assert not np.array_equal(model.buffers["1.running_mean"], np.zeros(32))
    before = {name: value.copy() for name, value in model.buffers.items()}
    assert len(model.summary((1, 28, 28))) == len(model.layers)
    for name, value in model.buffers.items():  # summary's forward pass left them as they were
        np.testing.assert_array_equal(value, before[name])
    model.eval()  # running statistics: an image's logits no longer depend on its batch
    np.testing.assert_allclose(model.forward(x[:1]), model.forward(x)[:1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", [blocks.BatchNorm2D.forward, blocks.BatchNorm2D.backward,
                                    blocks.Dropout.forward, blocks.Dropout.backward,
                                    blocks.ResidualBlock.forward, blocks.ResidualBlock.backward])
def test_methods_have_no_python_loops_over_values(method):
    # the one loop allowed: BatchNorm2D.forward's over its two running statistics
    assert [target for target, _ in loops_in(method)] in ([], ["(name, batch)"])


@pytest.mark.parametrize("call, message", [
    (lambda: blocks.BatchNorm2D(0), r"num_channels must be >= 1 \(got 0\)"),
    (lambda: blocks.BatchNorm2D(3, momentum=1.5), r"momentum must be in \[0, 1\] \(got 1.5\)"),
    (lambda: blocks.BatchNorm2D(3, eps=0.0), r"eps must be in \(0, inf\] \(got 0.0\)"),
    (lambda: blocks.BatchNorm2D(3).forward(np.zeros((2, 2, 4, 4))),
     r"x must have 3 channels \(got 2\)"),
    (lambda: blocks.BatchNorm2D(3).forward(np.zeros((3, 4, 4))),
     r"x must be 4-D \(N, C, H, W\) \(got shape \(3, 4, 4\)\)"),
    (lambda: blocks.BatchNorm2D(3).forward(np.zeros((1, 3, 1, 1))),
     r"x must have more than one value per channel in training mode"),
    (lambda: blocks.Dropout(1.0), r"p must be in \[0, 1\) \(got 1.0\)"),
    (lambda: blocks.Dropout("0.5"), r"p must be a number \(got str '0.5'\)"),
    (lambda: blocks.Dropout().forward(np.zeros(3, dtype=int)),
     r"x must have a floating dtype \(got int64\)"),
    (lambda: blocks.ResidualBlock(4).forward(np.zeros((1, 3, 5, 5), dtype=np.float32)),
     r"x must have 4 channels \(got 3\)"),
    (lambda: CNN([]).train("no"), r"mode must be a bool \(got str 'no'\)"),
])
def test_bad_arguments_are_named_in_the_error(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()
