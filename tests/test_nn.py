"""Proof that the numpy core is right: finite differences, PyTorch autograd, torch.optim."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from common.nn import layers as L
from common.nn import losses
from common.nn.init import INITIALIZERS, he, small_random, xavier
from common.nn.network import MLP
from common.nn.optim import SGD, Adam, Momentum, make_optimizer
from common.nn.training import Solver, TrainConfig, scheduled_lr

RNG = np.random.default_rng(0)


def numeric_gradient(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar function f at x (float64), one coordinate at a time."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = f()
        x[i] = old - h
        minus = f()
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


# ----------------------------------------------------------------------------- layers

def test_dense_gradients():
    x, w, b = RNG.normal(size=(5, 4)), RNG.normal(size=(4, 3)), RNG.normal(size=3)
    dout = RNG.normal(size=(5, 3))
    out, cache = L.dense_forward(x, w, b)
    np.testing.assert_allclose(out, x @ w + b)
    dx, dw, db = L.dense_backward(dout, cache)
    f = lambda: float(np.sum(L.dense_forward(x, w, b)[0] * dout))  # noqa: E731
    assert relative_error(dx, numeric_gradient(f, x)) < 1e-6
    assert relative_error(dw, numeric_gradient(f, w)) < 1e-6
    assert relative_error(db, numeric_gradient(f, b)) < 1e-6
    assert L.dense_backward(dout, cache, need_input_grad=False)[0] is None


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "identity"])
def test_activation_gradients(name):
    forward, backward = L.ACTIVATIONS[name]
    x = RNG.normal(size=(6, 5))
    x[np.abs(x) < 1e-3] = 0.5  # keep ReLU away from its kink
    dout = RNG.normal(size=x.shape)
    _, cache = forward(x)
    f = lambda: float(np.sum(forward(x)[0] * dout))  # noqa: E731
    assert relative_error(backward(dout, cache), numeric_gradient(f, x)) < 1e-6


def test_softmax_gradient_and_stability():
    x = RNG.normal(size=(4, 6))
    dout = RNG.normal(size=x.shape)
    p, cache = L.softmax_forward(x)
    np.testing.assert_allclose(p.sum(axis=1), 1)
    f = lambda: float(np.sum(L.softmax_forward(x)[0] * dout))  # noqa: E731
    assert relative_error(L.softmax_backward(dout, cache), numeric_gradient(f, x)) < 1e-6
    big = np.array([[1000.0, 0.0, -1000.0]])
    assert np.all(np.isfinite(L.softmax(big))) and L.softmax(big)[0, 0] == pytest.approx(1)


def test_sigmoid_is_stable_at_extremes():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        s = L.sigmoid(x)
    assert s.dtype == np.float32
    np.testing.assert_allclose(s, [0, 1.9287e-22, 0.5, 1, 1], rtol=1e-3)


def test_subnormals_are_flushed_where_they_would_enter_the_matrix_products():
    tiny = np.finfo(np.float32).tiny
    a = np.array([tiny / 4, -tiny / 2, tiny, -1e-30, 0.0, 2.0], dtype=np.float32)
    assert L.flush_subnormals(a) is a
    np.testing.assert_array_equal(a, np.array([0, 0, tiny, -1e-30, 0, 2], dtype=np.float32))
    s = L.sigmoid(np.array([-95.0, -80.0], dtype=np.float32))  # exp(-95) is subnormal in float32
    assert s[0] == 0 and s[1] == pytest.approx(np.exp(-80.0), rel=1e-5)
    # A saturated unit: s = exp(-70) is normal, but s (1 - s) times an upstream gradient of 3e-10 is
    # not; with one image the bias gradients are those products themselves.
    model = MLP([8, 4, 3], activation="sigmoid", seed=0)
    model.params[0][...], model.params[2][...] = -70 / 8, 1.0
    _, caches = model.forward(np.ones((1, 8), dtype=np.float32))
    assert 0 < caches[1].min() and caches[1].max() * 3e-10 < tiny
    grads = model.backward(np.array([[1e-10, 1e-10, tiny / 8]], dtype=np.float32), caches)
    for bias_grad in grads[1::2]:  # the gradients that entered the products, summed over the one image
        assert not np.any((bias_grad != 0) & (np.abs(bias_grad) < tiny))
    assert grads[1].max() == 0 and grads[3][2] == 0  # flushed, not merely small


# ----------------------------------------------------------------------------- losses

def test_binary_cross_entropy_gradient_and_value():
    z, y = RNG.normal(size=(7, 1)), RNG.integers(0, 2, size=7)
    loss, grad = losses.binary_cross_entropy(z, y)
    p = 1 / (1 + np.exp(-z[:, 0]))
    assert loss == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    f = lambda: losses.binary_cross_entropy(z, y)[0]  # noqa: E731
    assert relative_error(grad, numeric_gradient(f, z)) < 1e-6
    huge, _ = losses.binary_cross_entropy(np.array([[1000.0], [-1000.0]]), np.array([0, 1]))
    assert huge == pytest.approx(1000.0)


@pytest.mark.parametrize("one_hot", [False, True])
def test_softmax_cross_entropy_gradient(one_hot):
    z, y = RNG.normal(size=(6, 4)), RNG.integers(0, 4, size=6)
    target = np.eye(4)[y] if one_hot else y
    loss, grad = losses.softmax_cross_entropy(z, target)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(6), y])))
    f = lambda: losses.softmax_cross_entropy(z, target)[0]  # noqa: E731
    assert relative_error(grad, numeric_gradient(f, z)) < 1e-6
    big, _ = losses.softmax_cross_entropy(np.array([[1000.0, 0.0]]), np.array([1]))
    assert big == pytest.approx(1000.0)


# ----------------------------------------------------------------------------- network

@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "identity"])
@pytest.mark.parametrize("outputs", [1, 4])
def test_network_gradients_by_finite_differences(activation, outputs):
    model = MLP([5, 4, outputs], activation=activation, init="xavier", seed=1, l2=0.1, dtype=np.float64)
    x, y = RNG.normal(size=(8, 5)), RNG.integers(0, max(outputs, 2), size=8)
    _, grads, _ = model.loss_and_grads(x, y)
    for p, g in zip(model.params, grads):
        numeric = numeric_gradient(lambda: model.loss_and_grads(x, y)[0], p)
        assert relative_error(g, numeric) < 1e-6


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "identity"])
@pytest.mark.parametrize("outputs", [1, 10])
def test_network_gradients_match_pytorch_autograd(activation, outputs):
    model = MLP([12, 7, 5, outputs], activation=activation, init="he", seed=2, l2=0.01, dtype=np.float64)
    x, y = RNG.normal(size=(9, 12)), RNG.integers(0, max(outputs, 2), size=9)
    loss, grads, _ = model.loss_and_grads(x, y)

    params = [torch.tensor(p, requires_grad=True) for p in model.params]
    h = torch.tensor(x)
    act = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu, "identity": lambda t: t}[activation]
    for i in range(0, len(params), 2):
        h = h @ params[i] + params[i + 1]
        if i < len(params) - 2:
            h = act(h)
    if outputs == 1:
        torch_loss = torch.nn.functional.binary_cross_entropy_with_logits(h[:, 0], torch.tensor(y, dtype=torch.float64))
    else:
        torch_loss = torch.nn.functional.cross_entropy(h, torch.tensor(y))
    torch_loss = torch_loss + 0.5 * 0.01 * sum((w * w).sum() for w in params[::2])
    torch_loss.backward()
    assert loss == pytest.approx(torch_loss.item(), rel=1e-10)
    for g, p in zip(grads, params):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_network_overfits_64_examples():
    x = RNG.normal(size=(64, 20)).astype(np.float32)
    y = RNG.integers(0, 10, size=64)
    model = MLP([20, 64, 10], activation="relu", init="he", seed=0)
    optimizer = Adam(lr=1e-2)
    for _ in range(300):
        _, grads, _ = model.loss_and_grads(x, y)
        optimizer.step(model.params, grads)
    loss, acc = model.evaluate(x, y)
    assert acc == 1.0 and loss < 0.05


def test_float32_stays_float32():
    model = MLP([8, 4, 3], seed=0)
    x = RNG.normal(size=(5, 8)).astype(np.float32)
    _, grads, logits = model.loss_and_grads(x, np.array([0, 1, 2, 0, 1]))
    assert logits.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)


def test_network_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown activation"):
        MLP([3, 2, 1], activation="swish")
    with pytest.raises(ValueError, match="unknown initializer"):
        MLP([3, 2, 1], init="orthogonal")


def test_predictions_and_probabilities():
    model = MLP([4, 1], seed=0)
    x = RNG.normal(size=(6, 4)).astype(np.float32)
    p = model.probabilities(x)
    assert p.shape == (6,) and np.all((p > 0) & (p < 1))
    np.testing.assert_array_equal(model.predictions(model.logits(x)), (p >= 0.5).astype(int))
    state = model.state()
    model.params[0] += 1
    model.load_state(state)
    np.testing.assert_array_equal(model.params[0], state[0])


# ----------------------------------------------------------------------------- initializers

@pytest.mark.parametrize("init, std", [(small_random, lambda i, o: 0.01), (he, lambda i, o: np.sqrt(2 / i)),
                                       (xavier, lambda i, o: np.sqrt(2 / (i + o))),
                                       (INITIALIZERS["lecun"], lambda i, o: np.sqrt(1 / i))])
def test_initializer_scales(init, std):
    w = init(400, 300, np.random.default_rng(0))
    assert w.shape == (400, 300) and w.dtype == np.float32
    assert w.std() == pytest.approx(std(400, 300), rel=0.02)
    assert abs(w.mean()) < 0.01 * std(400, 300) * 10
    assert set(INITIALIZERS) == {"small", "he", "xavier", "lecun"}


# ----------------------------------------------------------------------------- optimizers

def _run_both(ours, theirs, steps=6):
    rng = np.random.default_rng(3)
    p_np = [rng.normal(size=(4, 3)), rng.normal(size=3)]
    p_t = [torch.tensor(p.copy(), requires_grad=True) for p in p_np]
    opt_t = theirs(p_t)
    for _ in range(steps):
        grads = [rng.normal(size=p.shape) for p in p_np]
        for p, g in zip(p_t, grads):
            p.grad = torch.tensor(g)  # a copy: ours.step uses grads as scratch space
        ours.step(p_np, grads)
        opt_t.step()
    return p_np, [p.detach().numpy() for p in p_t]


@pytest.mark.parametrize("ours, theirs", [
    (lambda: SGD(0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    (lambda: Momentum(0.1, 0.9), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    (lambda: Adam(1e-2), lambda p: torch.optim.Adam(p, lr=1e-2)),
    (lambda: Adam(3e-3, 0.8, 0.99, 1e-6), lambda p: torch.optim.Adam(p, lr=3e-3, betas=(0.8, 0.99), eps=1e-6)),
])
def test_optimizers_match_torch(ours, theirs):
    mine, reference = _run_both(ours(), theirs)
    for a, b in zip(mine, reference):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_adam_counts_steps_per_parameter_and_corrects_bias_with_beta_power_t():
    adam = Adam(lr=0.1)
    p = [np.zeros(1), np.zeros(1)]
    adam.step(p, [np.ones(1), np.ones(1)])
    adam.step([p[0]], [np.ones(1)])  # only the first parameter steps again
    assert adam.t == {0: 2, 1: 1}
    # constant gradient 1: bias-corrected m and v are exactly 1, so every step moves lr
    np.testing.assert_allclose(p[0], [-0.2], atol=1e-6)
    np.testing.assert_allclose(p[1], [-0.1], atol=1e-6)


@pytest.mark.parametrize("make", [lambda: SGD(0.1), lambda: Momentum(0.1, 0.9), lambda: Adam(1e-2)])
def test_optimizer_state_round_trip_continues_bit_for_bit(make):
    rng = np.random.default_rng(5)
    grads = [[rng.normal(size=(4, 3)), rng.normal(size=3)] for _ in range(6)]
    straight, params = make(), [rng.normal(size=(4, 3)), rng.normal(size=3)]
    resumed_params = [p.copy() for p in params]
    for g in grads:
        straight.step(params, [a.copy() for a in g])  # step uses its gradients as scratch space
    first = make()
    for g in grads[:3]:
        first.step(resumed_params, [a.copy() for a in g])
    second = make()  # a fresh optimizer that only has the saved state
    second.load_state_dict({k: np.array(v) for k, v in first.state_dict().items()})
    for g in grads[3:]:
        second.step(resumed_params, g)
    for a, b in zip(params, resumed_params):
        np.testing.assert_array_equal(a, b)


def test_make_optimizer_and_bad_learning_rate():
    assert isinstance(make_optimizer("momentum", 0.1, momentum=0.5), Momentum)
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer("rmsprop", 0.1)
    with pytest.raises(ValueError, match="learning rate"):
        SGD(0)


# ----------------------------------------------------------------------------- training loop

def _blobs(n=400, d=10, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    x = (rng.normal(size=(n, d)) + y[:, None] * 1.5).astype(np.float32)
    return x, y


def _solver(model, optimizer, x, y, config, **kwargs) -> Solver:
    return Solver(model, optimizer, x[:300], y[:300], config, validation=(x[300:], y[300:]), **kwargs)


def test_solver_learns_and_records_history():
    x, y = _blobs()
    model = MLP([10, 8, 1], seed=0)
    result = _solver(model, SGD(0.1), x, y, TrainConfig(epochs=15, batch_size=32, patience=0)).train()
    assert result.status == "complete" and len(result.history) == 15
    assert result.history[-1]["val_acc"] > 0.85
    assert {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"} <= set(result.history[0])


def test_solver_without_validation_keeps_the_last_epoch_and_watches_test_only():
    x, y = _blobs()
    model = MLP([10, 8, 1], seed=0)
    seen = []
    result = Solver(model, SGD(0.1), x[:300], y[:300], TrainConfig(epochs=4, batch_size=32, patience=0),
                    test=(x[300:], y[300:]), on_epoch=seen.append).train()
    assert result.best_epoch == 4 and [r["epoch"] for r in seen] == [1, 2, 3, 4]
    assert "val_loss" not in result.history[0] and {"test_loss", "test_acc"} <= set(result.history[0])
    assert model.evaluate(x[300:], y[300:])[0] == pytest.approx(result.history[-1]["test_loss"])
    with pytest.raises(ValueError, match="needs a validation split"):
        Solver(model, SGD(0.1), x, y, TrainConfig(patience=3))


def test_solver_stop_after_trains_the_first_epochs_of_the_full_schedule():
    x, y = _blobs()
    full = _solver(MLP([10, 8, 1], seed=0), SGD(0.1), x, y,
                   TrainConfig(epochs=10, batch_size=32, patience=0, schedule="cosine")).train()
    trial = _solver(MLP([10, 8, 1], seed=0), SGD(0.1), x, y,
                    TrainConfig(epochs=10, batch_size=32, patience=0, schedule="cosine", stop_after=3)).train()
    assert len(trial.history) == 3
    assert trial.history == [{**h, "seconds": t["seconds"]} for h, t in zip(full.history[:3], trial.history)]


def test_solver_early_stops_and_restores_the_best_epoch():
    x, y = _blobs(seed=1)
    y_val_noise = np.random.default_rng(0).integers(0, 2, size=100)  # validation labels are noise
    model = MLP([10, 32, 1], seed=0)
    result = Solver(model, Adam(0.05), x[:300], y[:300], TrainConfig(epochs=100, batch_size=16, patience=3),
                    validation=(x[300:], y_val_noise)).train()
    assert len(result.history) < 100 and "early stop" in result.note
    assert len(result.history) - result.best_epoch == 3
    assert model.evaluate(x[300:], y_val_noise)[0] == pytest.approx(result.best_val_loss, rel=1e-5)


def test_solver_stops_on_divergence_with_a_suggestion():
    x, y = _blobs()
    x = x * 1e3
    model = MLP([10, 8, 4], activation="relu", init="he", seed=0)
    result = _solver(model, SGD(1e6), x, y, TrainConfig(epochs=20, batch_size=32)).train()
    assert result.status == "diverged"
    assert "epoch 1" in result.note and "lower learning rate" in result.note
    assert all(np.all(np.isfinite(p)) for p in model.params)


def _interrupt_in_epoch(model, epoch: int, batches_per_epoch: int = 10):
    calls = {"n": 0}
    real = model.loss_and_grads

    def interrupted(xb, yb):
        calls["n"] += 1
        if calls["n"] == (epoch - 1) * batches_per_epoch + 1:  # 300 samples / 32 per batch = 10 batches
            raise KeyboardInterrupt
        return real(xb, yb)

    model.loss_and_grads = interrupted
    return real


def test_solver_turns_ctrl_c_into_an_incomplete_result():
    x, y = _blobs()
    model = MLP([10, 4, 1], seed=0)
    _interrupt_in_epoch(model, 3)
    result = _solver(model, SGD(0.1), x, y, TrainConfig(epochs=50, batch_size=32)).train()
    assert result.status == "incomplete" and len(result.history) == 2 and "epoch 3" in result.note


@pytest.mark.parametrize("optimizer", [lambda: Momentum(0.05), lambda: Adam(0.01)])
def test_solver_resumes_from_its_checkpoint_bit_for_bit(tmp_path, optimizer):
    x, y = _blobs()
    config = TrainConfig(epochs=6, batch_size=32, patience=0, schedule="cosine")
    straight_model = MLP([10, 8, 1], seed=0)
    straight = _solver(straight_model, optimizer(), x, y, config).train()

    checkpoint = tmp_path / "run.npz"
    model = MLP([10, 8, 1], seed=0)
    real = _interrupt_in_epoch(model, 4)
    first = _solver(model, optimizer(), x, y, config, checkpoint=checkpoint, checkpoint_tag="a",
                    checkpoint_seconds=0).train()
    assert first.status == "incomplete" and checkpoint.is_file() and "--resume" in first.note
    model.loss_and_grads = real
    resumed_model = MLP([10, 8, 1], seed=0)  # a new process: only the checkpoint carries the state
    resumed = _solver(resumed_model, optimizer(), x, y, config, checkpoint=checkpoint, checkpoint_tag="a").train(
        resume=True)
    assert resumed.status == "complete" and resumed.resumed_after == 3 and not checkpoint.exists()
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in straight.history]
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in resumed.history] == strip
    for a, b in zip(straight_model.params, resumed_model.params):
        np.testing.assert_array_equal(a, b)


def test_solver_ignores_a_checkpoint_of_another_run(tmp_path):
    x, y = _blobs()
    checkpoint = tmp_path / "run.npz"
    model = MLP([10, 8, 1], seed=0)
    _interrupt_in_epoch(model, 3)
    _solver(model, SGD(0.1), x, y, TrainConfig(epochs=5, batch_size=32, patience=0), checkpoint=checkpoint,
            checkpoint_tag="lr 0.1", checkpoint_seconds=0).train()
    other = _solver(MLP([10, 8, 1], seed=0), SGD(0.2), x, y, TrainConfig(epochs=5, batch_size=32, patience=0),
                    checkpoint=checkpoint, checkpoint_tag="lr 0.2").train(resume=True)
    assert other.resumed_after == 0 and len(other.history) == 5


def test_cosine_schedule():
    assert scheduled_lr(0.1, "constant", 5, 10) == 0.1
    assert scheduled_lr(0.1, "cosine", 0, 10) == pytest.approx(0.1)
    assert scheduled_lr(0.1, "cosine", 5, 10) == pytest.approx(0.05)
    with pytest.raises(ValueError):
        scheduled_lr(0.1, "step", 0, 10)


def test_optimizer_state_stuck_at_subnormals_is_flushed_once_an_epoch():
    tiny = np.finfo(np.float32).tiny
    stuck = np.full(4, 2 * np.float32(1.4e-45), dtype=np.float32)  # two units in the last place
    assert np.array_equal(stuck * np.float32(0.9), stuck)  # v <- 0.9 v rounds back to itself: it never reaches 0
    model = MLP([4, 3], activation="relu", seed=0)
    momentum, adam = Momentum(0.1), Adam(0.1)
    momentum.velocity = {0: np.full((4, 3), stuck[0]), 1: np.full(3, 1.0, dtype=np.float32)}
    adam.m, adam.v, adam.t = {0: np.full((4, 3), stuck[0])}, {0: np.full((4, 3), tiny / 2)}, {0: 1}
    for optimizer in (momentum, adam, SGD(0.1)):
        optimizer.flush_subnormals()
    assert not momentum.velocity[0].any() and (momentum.velocity[1] == 1).all()
    assert not adam.m[0].any() and not adam.v[0].any()
    x, y = np.zeros((8, 4), np.float32), np.zeros(8, np.int64)  # zero inputs: W1's gradient is exactly 0
    solver = Solver(model, Momentum(0.1), x, y, TrainConfig(epochs=1, batch_size=8, patience=0))
    solver.optimizer.velocity = {0: np.full((4, 3), stuck[0])}
    solver.train()
    assert not solver.optimizer.velocity[0].any()


def test_the_squared_error_output_gradient_is_what_report_000s_backward_computes():
    """Report 000 passes dz = p - y into an output layer whose backward multiplies by p (1 - p) again: the
    gradient of (p - y)^2 / 2, checked by finite differences and autograd, with the cross-entropy reported."""
    z, y = RNG.normal(size=(7, 1)), RNG.integers(0, 2, size=7)
    loss, grad = losses.binary_cross_entropy_squared_error_gradient(z, y)
    assert loss == losses.binary_cross_entropy(z, y)[0]  # what the training loop prints
    p = lambda: 1 / (1 + np.exp(-z[:, 0]))  # noqa: E731
    half_squared = lambda: float(np.mean((p() - y) ** 2) / 2)  # noqa: E731
    assert relative_error(grad, numeric_gradient(half_squared, z)) < 1e-6
    # The report's own arithmetic: dz = (output - y) * sigmoid_derivative(output), dw = x.T @ dz / m.
    x = RNG.normal(size=(7, 3))
    model = MLP([3, 1], init="he", seed=0, dtype=np.float64, output_gradient="squared_error")
    _, grads, logits = model.loss_and_grads(x, y)
    output = 1 / (1 + np.exp(-logits))
    dz = (output - y.reshape(-1, 1)) * output * (1 - output)
    np.testing.assert_allclose(grads[0], x.T @ dz / len(x), rtol=1e-12)
    np.testing.assert_allclose(grads[1], dz.sum(axis=0) / len(x), rtol=1e-12)


def test_a_hidden_network_with_the_squared_error_gradient_matches_autograd():
    model = MLP([6, 5, 1], activation="sigmoid", init="he", seed=3, l2=0.01, dtype=np.float64,
                output_gradient="squared_error")
    x, y = RNG.normal(size=(9, 6)), RNG.integers(0, 2, size=9)
    _, grads, _ = model.loss_and_grads(x, y)
    params = [torch.tensor(p, requires_grad=True) for p in model.params]
    out = torch.sigmoid(torch.sigmoid(torch.tensor(x) @ params[0] + params[1]) @ params[2] + params[3])[:, 0]
    objective = ((out - torch.tensor(y, dtype=torch.float64)) ** 2).mean() / 2 + \
        0.5 * 0.01 * sum((w * w).sum() for w in params[::2])
    objective.backward()
    for g, p in zip(grads, params):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="unknown output gradient 'mse'"):
        MLP([2, 1], output_gradient="mse")


def test_lecun_and_an_output_layer_that_starts_otherwise():
    rng = np.random.default_rng(0)
    assert INITIALIZERS["lecun"](4096, 64, rng).std() == pytest.approx(np.sqrt(1 / 4096), rel=0.02)
    model = MLP([3072, 64, 1], init="he", output_init="lecun", seed=0)  # report 001's Part 2
    assert model.params[0].std() == pytest.approx(np.sqrt(2 / 3072), rel=0.05)
    assert model.params[2].std() == pytest.approx(np.sqrt(1 / 64), rel=0.25)
    same = MLP([3072, 64, 1], init="he", seed=0)
    np.testing.assert_array_equal(model.params[0], same.params[0])  # the same draws, only the scale differs


# ----------------------------------------------------------------------------- unit activity

def test_unit_activity_finds_dead_relu_units_and_saturated_sigmoids():
    x = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    relu = MLP([8, 4, 3], activation="relu", init="he", seed=0)
    relu.params[1][:2] = -1e3  # two units can never be positive: dead
    assert relu.unit_activity(x) == {"dead_units": 0.5}
    sigmoid = MLP([8, 4, 3], activation="sigmoid", seed=0)
    sigmoid.params[0][...] = 0
    assert sigmoid.unit_activity(x) == {"dead_units": 0.0, "saturated_units": 0.0}  # every slope at its largest
    sigmoid.params[1][:] = [50, -50, 0, 0]  # two units pinned near 1 and 0: saturated for every image, so dead
    activity = sigmoid.unit_activity(x)
    assert activity == {"dead_units": 0.5, "saturated_units": 0.5}
    assert MLP([8, 3]).unit_activity(x) == {}  # no hidden layer, no hidden units


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_unit_activity_matches_the_slopes_autograd_gives(activation):
    """The saturated share, recomputed from the slope torch's autograd takes of the same activation."""
    from common.nn.layers import MAX_SLOPE
    from common.nn.network import DEAD_SLOPE, SATURATED_SLOPE
    x = np.random.default_rng(1).standard_normal((200, 6)).astype(np.float32) * 3
    model = MLP([6, 16, 2], activation=activation, init="he", seed=2)
    z = torch.tensor(x @ model.params[0] + model.params[1], requires_grad=True)
    getattr(torch, activation)(z).sum().backward()
    slope = z.grad.numpy() / MAX_SLOPE[activation]
    activity = model.unit_activity(x)
    assert activity["dead_units"] == pytest.approx(np.mean(np.all(slope < DEAD_SLOPE, axis=0)))
    if activation != "relu":
        assert activity["saturated_units"] == pytest.approx(np.mean(slope < SATURATED_SLOPE), abs=1e-3)
    else:
        assert "saturated_units" not in activity


def test_solver_records_the_unit_activity_of_its_probe_batch_every_epoch():
    x, y = _blobs()
    model = MLP([10, 8, 2], activation="relu", init="he", seed=0)
    result = _solver(model, SGD(0.1), x, y, TrainConfig(epochs=3, batch_size=50, patience=0), probe=x[:64]).train()
    assert [set(h) >= {"dead_units"} for h in result.history] == [True] * 3
    kept = result.history[result.best_epoch - 1]  # the model holds the parameters of its best epoch
    assert kept["dead_units"] == model.unit_activity(x[:64])["dead_units"]


def test_a_long_run_measures_its_test_curve_after_each_early_epoch_then_sparsely():
    from common.nn.training import measures_test
    x, y = RNG.normal(size=(16, 4)).astype(np.float32), RNG.integers(0, 2, size=16)
    result = Solver(MLP([4, 1], seed=0), SGD(0.1), x, y, TrainConfig(epochs=250, patience=0, batch_size=16),
                    test=(x, y)).train()
    measured = [h["epoch"] for h in result.history if "test_acc" in h]
    assert measured == [*range(1, 101), *range(102, 251, 2)]  # every epoch, then every 250 // 100 = 2nd, and the last
    assert all("train_loss" in h for h in result.history) and len(result.history) == 250
    assert sum(measures_test(e, 1000) for e in range(1, 1001)) == 190 and measures_test(1000, 1000)
    assert all(measures_test(e, 20) for e in range(1, 21))  # a short run: every epoch
