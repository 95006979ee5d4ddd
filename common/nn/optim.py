"""Optimizers, kept apart from the layers: ``step(params, grads)`` updates arrays in place.

``step`` uses ``grads`` as scratch space (the Solver makes fresh ones every step): scaling a gradient in
place instead of into a new array saves a pass over memory and an allocation per parameter, about a tenth
of a batch-64 step of the 3072-64 networks. The arithmetic, and so every result, is the same.

State is kept per parameter (by position in the list), so one optimizer serves one model.
The formulas are PyTorch's, and the tests check the first steps against ``torch.optim``.
``state_dict()`` / ``load_state_dict()`` save and restore that state as plain arrays, so a
checkpointed run resumes bit for bit.
"""
from __future__ import annotations

import numpy as np

from common.nn.layers import flush_subnormals


class SGD:
    """Plain gradient descent: p <- p - lr g."""

    def __init__(self, lr: float):
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        self.lr = float(lr)  # a Python float takes the arrays' dtype: lr * g rounds once

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        for p, g in zip(params, grads):
            g *= self.lr  # lr g, in place (see the module's docstring)
            p -= g

    def state_dict(self) -> dict[str, np.ndarray]:
        return {}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        pass

    def flush_subnormals(self) -> None:
        """No state to flush."""


class Momentum:
    """Heavy-ball momentum as torch.optim.SGD(momentum=beta): v <- beta v + g; p <- p - lr v.

    With a constant learning rate this is the textbook v <- beta v - lr g; p <- p + v."""

    def __init__(self, lr: float, beta: float = 0.9):
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        self.lr, self.beta = float(lr), beta  # a Python float takes the arrays' dtype
        self.velocity: dict[int, np.ndarray] = {}

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        for i, (p, g) in enumerate(zip(params, grads)):
            v = self.velocity.get(i)
            if v is None:
                v = self.velocity[i] = g.copy()  # PyTorch starts the buffer at the first gradient
            else:
                v *= self.beta
                v += g
            np.multiply(v, self.lr, out=g)  # lr v, into the spent gradient
            p -= g

    def state_dict(self) -> dict[str, np.ndarray]:
        return {f"velocity.{i}": v for i, v in self.velocity.items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.velocity = {int(k.split(".")[1]): np.array(v) for k, v in state.items() if k.startswith("velocity.")}

    def flush_subnormals(self) -> None:
        """Zero the subnormal velocities. Where gradients vanish (dead ReLU units) v <- 0.9 v never
        reaches zero: rounding keeps the smallest subnormals fixed, and every update then runs on
        subnormals, several times slower (see ``layers.flush_subnormals``)."""
        for v in self.velocity.values():
            flush_subnormals(v)


class Adam:
    """Adam (Kingma & Ba) with a step counter per parameter and bias correction beta**t.

    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
    p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    """

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        self.lr, self.beta1, self.beta2, self.eps = float(lr), beta1, beta2, eps  # float: see SGD
        self.m: dict[int, np.ndarray] = {}
        self.v: dict[int, np.ndarray] = {}
        self.t: dict[int, int] = {}

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        for i, (p, g) in enumerate(zip(params, grads)):
            if i not in self.t:
                self.m[i], self.v[i], self.t[i] = np.zeros_like(p), np.zeros_like(p), 0
            self.t[i] += 1
            t, m, v = self.t[i], self.m[i], self.v[i]
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * (g * g)
            step_size = self.lr / (1 - self.beta1 ** t)
            denominator = np.sqrt(v / (1 - self.beta2 ** t))
            denominator += self.eps
            np.divide(m, denominator, out=denominator)  # m / (sqrt(v_hat) + eps), in place
            denominator *= step_size
            p -= denominator

    def state_dict(self) -> dict[str, np.ndarray]:
        state = {}
        for i in self.t:
            state[f"m.{i}"], state[f"v.{i}"], state[f"t.{i}"] = self.m[i], self.v[i], np.array(self.t[i])
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.m, self.v, self.t = {}, {}, {}
        for key, value in state.items():
            name, index = key.split(".")
            if name == "t":
                self.t[int(index)] = int(value)
            elif name in ("m", "v"):
                getattr(self, name)[int(index)] = np.array(value)

    def flush_subnormals(self) -> None:
        """Zero the subnormal moments (squared tiny gradients land there); see ``Momentum.flush_subnormals``."""
        for moments in (self.m, self.v):
            for a in moments.values():
                flush_subnormals(a)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def make_optimizer(name: str, lr: float, momentum: float = 0.9) -> SGD | Momentum | Adam:
    """Build an optimizer by name: 'sgd', 'momentum' (beta ``momentum``) or 'adam'."""
    if name == "sgd":
        return SGD(lr)
    if name == "momentum":
        return Momentum(lr, beta=momentum)
    if name == "adam":
        return Adam(lr)
    raise ValueError(f"unknown optimizer {name!r}; choose from {sorted(OPTIMIZERS)}")
