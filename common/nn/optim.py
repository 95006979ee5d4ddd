"""Optimizers, kept apart from the layers: ``step(params, grads)`` updates arrays in place.

State is kept per parameter (by position in the list), so one optimizer serves one model.
The formulas are PyTorch's, and the tests check the first steps against ``torch.optim``.
"""
from __future__ import annotations

import numpy as np


class SGD:
    """Plain gradient descent: p <- p - lr g."""

    def __init__(self, lr: float):
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        self.lr = lr

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        for p, g in zip(params, grads):
            p -= self.lr * g


class Momentum:
    """Heavy-ball momentum as torch.optim.SGD(momentum=beta): v <- beta v + g; p <- p - lr v."""

    def __init__(self, lr: float, beta: float = 0.9):
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        self.lr, self.beta = lr, beta
        self.velocity: dict[int, np.ndarray] = {}

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        for i, (p, g) in enumerate(zip(params, grads)):
            v = self.velocity.get(i)
            if v is None:
                v = self.velocity[i] = g.copy()  # PyTorch starts the buffer at the first gradient
            else:
                v *= self.beta
                v += g
            p -= self.lr * v


class Adam:
    """Adam (Kingma & Ba) with a step counter per parameter and bias correction beta**t.

    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
    p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    """

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
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
            p -= step_size * (m / denominator)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def make_optimizer(name: str, lr: float, momentum: float = 0.9):
    """Build an optimizer by name: 'sgd', 'momentum' (beta ``momentum``) or 'adam'."""
    if name == "sgd":
        return SGD(lr)
    if name == "momentum":
        return Momentum(lr, beta=momentum)
    if name == "adam":
        return Adam(lr)
    raise ValueError(f"unknown optimizer {name!r}; choose from {sorted(OPTIMIZERS)}")
