"""Public tests of scratchcnn/blocks.py: Phase 12 (BatchNorm2D), Phase 13 (Dropout and
ResidualBlock)."""

import numpy as np
import pytest
from helpers import assert_close, assert_gradient, needs, numerical_gradient

from scratchcnn.blocks import BatchNorm2D, Dropout, ResidualBlock
from scratchcnn.layers import Conv2D, relu_backward, relu_forward

# The hand example: one channel holding 0, 4, 4, 0 (N=2, H=1, W=2).
HAND_X = np.array([[[[0.0, 4.0]]], [[[4.0, 0.0]]]])


def batchnorm(channels, gamma=None, beta=None):
    """A float64 BatchNorm2D with these gamma and beta (sequences of length `channels`)."""
    layer = BatchNorm2D(channels, dtype=np.float64)
    if gamma is not None:
        layer.params["gamma"][:] = gamma
    if beta is not None:
        layer.params["beta"][:] = beta
    return layer


@pytest.mark.phase12
def test_batchnorm_hand_example_training_step():
    """mean 2, biased var (4+4+4+4)/4 = 4, so x_hat = (x - 2)/sqrt(4 + 1e-5) = +-1 (nearly);
    gamma 3, beta 0.5: out = 3 x_hat + 0.5. Running stats after one step with momentum 0.1:
    mean 0.9*0 + 0.1*2 = 0.2; var 0.9*1 + 0.1 * (16/3) (unbiased: 16 / (4-1)) = 1.4333..."""
    layer = batchnorm(1, gamma=[3.0], beta=[0.5])
    x_hat = (HAND_X - 2) / np.sqrt(4 + 1e-5)
    assert_close(layer.forward(HAND_X), 3 * x_hat + 0.5, "BatchNorm2D(1) hand example out")
    assert_close(layer.buffers["running_mean"], [0.2], "running_mean after one step")
    assert_close(layer.buffers["running_var"], [0.9 + 0.1 * 16 / 3],
                 "running_var after one step (unbiased batch variance, 16/3)")


@pytest.mark.phase12
def test_batchnorm_eval_mode_uses_running_statistics():
    """After the hand step (running mean 0.2, var 1.4333...), eval mode normalises any input
    with those, and leaves them unchanged."""
    layer = batchnorm(1, gamma=[3.0], beta=[0.5])
    layer.forward(HAND_X)
    layer.training = False
    x = np.array([[[[1.0, 2.0]]], [[[3.0, 5.0]]]])
    running_var = 0.9 + 0.1 * 16 / 3
    assert_close(layer.forward(x), 3 * (x - 0.2) / np.sqrt(running_var + 1e-5) + 0.5,
                 "BatchNorm2D(1) eval-mode out")
    assert_close(layer.buffers["running_mean"], [0.2], "running_mean after an eval forward")
    assert_close(layer.buffers["running_var"], [running_var], "running_var after an eval forward")


@pytest.mark.phase12
def test_batchnorm_normalises_each_channel():
    """With gamma 1 and beta 0, every channel of the output has mean 0 and variance about 1."""
    rng = np.random.default_rng(0)
    scale, shift = np.array([1.0, 5.0, 0.2]), np.array([3.0, -2.0, 0.0])
    x = rng.standard_normal((4, 3, 5, 5)) * scale[:, None, None] + shift[:, None, None]
    out = batchnorm(3).forward(x)
    assert_close(out.mean(axis=(0, 2, 3)), np.zeros(3), "BatchNorm2D out mean per channel",
                 atol=1e-10)
    assert_close(out.var(axis=(0, 2, 3)), x.var(axis=(0, 2, 3)) / (x.var(axis=(0, 2, 3)) + 1e-5),
                 "BatchNorm2D out variance per channel")


@pytest.mark.phase12
@pytest.mark.parametrize("training", [True, False], ids=["training", "eval"])
def test_batchnorm_backward_numerical_gradient(training):
    rng = np.random.default_rng(1)
    x, dout = rng.standard_normal((3, 2, 4, 3)), rng.standard_normal((3, 2, 4, 3))
    layer = batchnorm(2, gamma=[1.5, -0.7], beta=[0.2, 0.3])
    layer.buffers["running_mean"][:] = [0.3, -0.1]
    layer.buffers["running_var"][:] = [0.8, 1.7]
    layer.training = training
    layer.forward(x)
    dx = layer.backward(dout)
    grads = {name: g.copy() for name, g in layer.grads.items()}
    mode = "training" if training else "eval"
    # In training mode only the output is used, not the running statistics it updates.
    assert_gradient(dx, numerical_gradient(layer.forward, x, dout), f"BatchNorm2D dx ({mode})")
    for name, p in layer.params.items():
        assert_gradient(grads[name], numerical_gradient(lambda _: layer.forward(x), p, dout),
                        f"BatchNorm2D grads[{name!r}] ({mode})")


@pytest.mark.phase12
def test_batchnorm_float32_and_input_unmodified():
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 4)).astype(np.float32)
    before = x.copy()
    layer = BatchNorm2D(3)
    out = layer.forward(x)
    dx = layer.backward(np.ones_like(out))
    assert out.dtype == np.float32 and dx.dtype == np.float32, (
        f"BatchNorm2D: float32 in must give float32 out and dx (got {out.dtype}, {dx.dtype})")
    assert np.array_equal(x, before), "BatchNorm2D.forward must not modify x"


@pytest.mark.phase13
def test_dropout_p0_and_eval_mode_are_the_identity():
    x = np.random.default_rng(3).standard_normal((4, 5))
    dout = np.ones_like(x)
    evaluating = Dropout(p=0.5, rng=0)
    evaluating.training = False
    for layer, what in [(Dropout(p=0.0, rng=0), "Dropout(p=0)"),
                        (evaluating, "Dropout(p=0.5) in eval mode")]:
        assert_close(layer.forward(x), x, f"{what} out")
        assert_close(layer.backward(dout), dout, f"{what} dx")


@pytest.mark.phase13
def test_dropout_scales_kept_values_and_backward_uses_the_mask():
    """p = 0.25: kept values become x / 0.75, dropped ones 0; dx = dout / 0.75 where kept."""
    x = np.full((10, 40), 3.0)
    layer = Dropout(p=0.25, rng=0)
    out = layer.forward(x)
    kept = out != 0
    assert_close(out, np.where(kept, 4.0, 0.0), "Dropout(p=0.25) out (3 / 0.75 = 4 where kept)")
    dout = np.arange(x.size, dtype=np.float64).reshape(x.shape)
    assert_close(layer.backward(dout), np.where(kept, dout / 0.75, 0.0),
                 "Dropout(p=0.25) dx (forward's mask)")


@pytest.mark.phase13
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_drops_a_fraction_near_p(p):
    out = Dropout(p=p, rng=1).forward(np.ones((100, 1000)))
    dropped = np.mean(out == 0)
    # 5 binomial standard deviations: a correct dropout fails about once in 3 million seeds
    tolerance = 5 * np.sqrt(p * (1 - p) / out.size)
    assert abs(dropped - p) < tolerance, (
        f"Dropout(p={p}): {dropped:.4f} of the values dropped, expected {p} +- {tolerance:.4f}")


@pytest.mark.phase13
def test_dropout_draws_a_new_mask_each_call():
    layer = Dropout(p=0.5, rng=2)
    x = np.ones((20, 50))
    assert not np.array_equal(layer.forward(x), layer.forward(x)), (
        "Dropout: two forward calls dropped exactly the same values; draw a new mask each call")


def residual_block(channels, rng):
    """A float64 ResidualBlock, once Conv2D (Phase 8) and ReLU (Phase 7) work."""
    probe = np.zeros((1, channels, 3, 3))
    conv = Conv2D(channels, channels, 3, padding=1, rng=0, dtype=np.float64)
    needs(conv.backward, needs(conv.forward, probe))
    needs(relu_backward, probe, needs(relu_forward, probe)[1])
    return ResidualBlock(channels, rng=rng, dtype=np.float64)


@pytest.mark.phase13
def test_residual_block_with_zero_convolutions_is_relu():
    """All weights and biases 0: the branch is 0, so out = relu(x) and dx = dout * (x > 0);
    conv2's bias gradient is the sum of that over N, H and W, conv1's gradients are 0."""
    block = residual_block(2, rng=0)
    for p in block.params.values():
        p[...] = 0
    x = np.random.default_rng(4).standard_normal((2, 2, 4, 3))
    dout = np.random.default_rng(5).standard_normal(x.shape)
    assert_close(block.forward(x), np.maximum(x, 0), "ResidualBlock (zero convs) out")
    dx = block.backward(dout)
    assert_close(dx, dout * (x > 0), "ResidualBlock (zero convs) dx")
    assert_close(block.grads["conv2.b"], (dout * (x > 0)).sum(axis=(0, 2, 3)),
                 "ResidualBlock (zero convs) grads['conv2.b']")
    assert_close(block.grads["conv1.w"], np.zeros((2, 2, 3, 3)),
                 "ResidualBlock (zero convs) grads['conv1.w']")


@pytest.mark.phase13
def test_residual_block_numerical_gradient():
    rng = np.random.default_rng(6)
    block = residual_block(2, rng=7)
    x, dout = rng.standard_normal((2, 2, 4, 4)), rng.standard_normal((2, 2, 4, 4))
    block.forward(x)
    dx = block.backward(dout)
    grads = {name: g.copy() for name, g in block.grads.items()}
    assert sorted(grads) == ["conv1.b", "conv1.w", "conv2.b", "conv2.w"], (
        f"ResidualBlock.grads keys (got {sorted(grads)})")
    assert_gradient(dx, numerical_gradient(block.forward, x, dout), "ResidualBlock dx")
    for name, p in block.params.items():
        assert_gradient(grads[name], numerical_gradient(lambda _: block.forward(x), p, dout),
                        f"ResidualBlock grads[{name!r}]")
