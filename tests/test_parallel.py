"""cnnkit.parallel: both data-parallel wrappers compute what the model computes on one core, and
the worker processes behave: shared parameters, errors carried back, a dead worker reported."""

import mmap
import os
import signal

import numpy as np
import pytest

from cnnkit.models import build_model, load_impl
from cnnkit.parallel import (
    DataParallel, InInbox, ProcessParallel, blas_threads, can_fork, collect, parallel_for, post,
)

forking = pytest.mark.skipif(not can_fork(), reason="worker processes need fork (Linux)")


@pytest.fixture(scope="module")
def impl():
    return load_impl("solutions")


def guide_cnn(impl, dtype=np.float64):
    return impl.model.build_guide_cnn(rng=3, dtype=dtype)


def images(n, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).random((n, 1, 28, 28)).astype(dtype)


def test_matches_one_core(impl, wrapper):
    x = images(11)  # float64, an odd batch: shards of 5 and 6
    y = np.random.default_rng(1).integers(0, 10, 11)
    serial, parallel = guide_cnn(impl), guide_cnn(impl)
    expected_logits = serial.forward(x)
    _, dlogits = impl.layers.softmax_cross_entropy(expected_logits, y)
    serial.backward(dlogits)
    with wrapper(parallel, 2) as wrapped:
        logits = wrapped.forward(x)
        assert wrapped.backward(dlogits).shape == x.shape
        np.testing.assert_allclose(logits, expected_logits, rtol=1e-12, atol=1e-12)
        assert set(wrapped.grads) == set(serial.grads)
        for name, g in serial.grads.items():
            np.testing.assert_allclose(wrapped.grads[name], g, rtol=1e-10, atol=1e-12,
                                       err_msg=name)
            assert wrapped.params[name] is parallel.params[name]
        one = wrapped.forward(x[:1])  # fewer images than shards: one shard, no worker
        np.testing.assert_allclose(one, expected_logits[:1], rtol=1e-12, atol=1e-12)


def test_an_array_posted_to_an_inbox_is_collected_as_it_was():
    inbox = mmap.mmap(-1, 1024)
    array = np.arange(24, dtype=np.float32).reshape(2, 3, 4)[:, ::2]  # not contiguous
    message = post(array, inbox)
    assert isinstance(message, InInbox)
    collected = collect(message, inbox)
    np.testing.assert_array_equal(collected, array)
    assert collected.dtype == array.dtype
    post(np.zeros(3), inbox)  # the next request overwrites the inbox; the copy keeps its values
    np.testing.assert_array_equal(collected, array)
    too_big, objects = np.zeros(129), np.array([None, 1])
    assert post(too_big, inbox) is too_big and post(objects, inbox) is objects
    assert collect(too_big, inbox) is too_big


@forking
def test_shards_larger_than_the_inbox_go_through_the_pipe(impl, monkeypatch):
    monkeypatch.setattr("cnnkit.parallel.INBOX_BYTES", 4 * 28 * 28 * 8)  # 4 float64 images
    x = images(12)  # shards of 6 images: too big for the inbox
    expected = guide_cnn(impl).forward(x)
    with ProcessParallel(guide_cnn(impl), 2) as wrapped:
        np.testing.assert_allclose(wrapped.forward(x), expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(wrapped.forward(x[:6]), expected[:6], rtol=1e-12, atol=1e-12)


def test_training_steps_match_one_core(impl, wrapper):
    """Three SGD steps through the wrapper give the parameters three steps on one core give:
    the workers see every update of the shared parameters."""
    x, y = images(8), np.arange(8)
    serial, parallel = guide_cnn(impl), guide_cnn(impl)
    optimizers = [impl.model.SGD(lr=0.05), impl.model.SGD(lr=0.05)]
    with wrapper(parallel, 2) as wrapped:
        for _ in range(3):
            for model, optimizer in zip((serial, wrapped), optimizers):
                _, dlogits = impl.layers.softmax_cross_entropy(model.forward(x), y)
                model.backward(dlogits)
                optimizer.step(model.params, model.grads)
        np.testing.assert_allclose(wrapped.forward(x), serial.forward(x), rtol=1e-10)
    for name, value in serial.params.items():
        np.testing.assert_allclose(parallel.params[name], value, rtol=1e-10, err_msg=name)


@forking
def test_threads_and_processes_agree_bit_for_bit(impl):
    """Same shards, same code, same order of sums, one BLAS thread each (as in training):
    training histories do not depend on the wrapper."""
    x = images(10, dtype=np.float32)
    dlogits = np.random.default_rng(2).standard_normal((10, 10)).astype(np.float32)
    results = []
    for wrapper in (DataParallel, ProcessParallel):
        with blas_threads(1), wrapper(guide_cnn(impl, np.float32), 2) as wrapped:
            logits = wrapped.forward(x)
            wrapped.backward(dlogits)
            results.append((logits, wrapped.grads))
    (threads_logits, threads_grads), (processes_logits, processes_grads) = results
    assert np.array_equal(threads_logits, processes_logits)
    for name, grad in threads_grads.items():
        assert grad.dtype == np.float32 and np.array_equal(processes_grads[name], grad), name


@forking
def test_workers_follow_rebound_parameters(impl):
    """An optimizer that assigns new arrays instead of updating in place still trains the
    workers' shards: the new values are copied into shared memory before the next forward."""
    x = images(6)
    serial, parallel = guide_cnn(impl), guide_cnn(impl)
    with ProcessParallel(parallel, 2) as wrapped:
        wrapped.forward(x)
        for model in (serial, parallel):
            model.layers[0].params["w"] = model.layers[0].params["w"] * 2
        np.testing.assert_allclose(wrapped.forward(x), serial.forward(x), rtol=1e-12)


class FailsOnNegative:
    """A parameterless layer that raises NotImplementedError (as a stub does) on negative input."""

    params, grads = {}, {}

    def forward(self, x):
        if (x < 0).any():
            raise NotImplementedError("Phase 8: write FailsOnNegative.forward")
        return x.reshape(len(x), -1)[:, :10]

    def backward(self, dout):
        return dout


@forking
@pytest.mark.parametrize("failing_shard", [0, 1])
def test_an_error_in_either_shard_is_raised_and_the_pool_goes_on(impl, failing_shard):
    model = impl.model.CNN([FailsOnNegative()])
    x = images(4)
    with ProcessParallel(model, 2) as wrapped:
        bad = x.copy()
        bad[2 * failing_shard] = -1
        with pytest.raises(NotImplementedError, match="Phase 8: write") as raised:
            wrapped.forward(bad)
        if failing_shard == 1:  # the worker's traceback comes along as the cause
            assert "FailsOnNegative" in str(raised.value.__cause__)
        np.testing.assert_array_equal(wrapped.forward(x), x.reshape(4, -1)[:, :10])


@forking
def test_a_dead_worker_is_a_clear_error(impl):
    wrapped = ProcessParallel(guide_cnn(impl), 2)
    try:
        wrapped.forward(images(4))
        process = wrapped.workers[0].process
        os.kill(process.pid, signal.SIGKILL)
        process.join(10)
        with pytest.raises(RuntimeError, match=r"worker process .* exited with code -9"):
            wrapped.forward(images(4))
    finally:
        wrapped.close()
    assert not process.is_alive()


@forking
def test_layers_whose_params_cannot_be_replaced_are_refused(impl):
    from scratchcnn.blocks import ResidualBlock

    block = ResidualBlock(2)  # params is a property over its inner layers
    with pytest.raises(ValueError, match=r"layer 0 .*params cannot be replaced"):
        ProcessParallel(impl.model.CNN([block]), 2)


def test_parallel_for_picks_processes_where_it_can_fork(impl):
    with parallel_for(guide_cnn(impl), 1) as one:
        assert type(one) is DataParallel
    with parallel_for(guide_cnn(impl), 2) as two:
        assert type(two) is (ProcessParallel if can_fork() else DataParallel)
    with pytest.raises(ValueError, match=r"threads must be an int >= 1 \(got 0\)"):
        parallel_for(guide_cnn(impl), 0)


def test_a_model_wrapped_in_eval_mode_can_be_switched_to_training(impl, wrapper):
    """The workers start in the model's mode, so train() reaches them too."""
    serial, parallel = (build_model(impl, "cnn-bn", 0).eval() for _ in range(2))
    x = images(12, dtype=np.float32)
    with wrapper(parallel, 2) as wrapped:
        assert not wrapped.training
        np.testing.assert_allclose(wrapped.forward(x), serial.forward(x), rtol=1e-5, atol=1e-5)
        wrapped.train()
        serial.train()
        # Training mode: each shard is normalised with its own batch statistics.
        np.testing.assert_allclose(wrapped.forward(x)[6:], serial.forward(x[6:]), rtol=1e-4,
                                   atol=1e-4)
