"""2-D toy problems for Part 4's decision-boundary figure: what an activation lets a small network draw.

    x, y = make_dataset("moons", n=400, seed=0)                 # (n, 2) float32, (n,) labels 0/1
    model = train_toy(x, y, activation="tanh")                   # 2-16-1, trained by the numpy core
    accuracy = float(np.mean(model.predictions(model.logits(x_test)) == y_test))

A network whose hidden activation is the identity is a linear model however wide: it can only cut
the plane with a straight line, which is the control the nonlinear activations are compared with.
"""
from __future__ import annotations

import numpy as np

from common.nn.network import MLP
from common.nn.optim import Adam
from common.nn.training import Solver, TrainConfig

DATASETS = ("moons", "circles", "xor")
TOY_ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu")


def make_moons(n: int, rng: np.random.Generator, noise: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: label 0 the upper, label 1 the lower (shifted) one."""
    angles = rng.uniform(0, np.pi, n)
    y = rng.integers(0, 2, n)
    x = np.where(y[:, None] == 0, np.c_[np.cos(angles), np.sin(angles)],
                 np.c_[1 - np.cos(angles), 0.5 - np.sin(angles)])
    return x + rng.normal(0, noise, (n, 2)), y


def make_circles(n: int, rng: np.random.Generator, noise: float = 0.08, inner: float = 0.5) -> tuple[np.ndarray,
                                                                                                      np.ndarray]:
    """Two concentric circles: label 1 the inner one (radius ``inner``), label 0 the outer (radius 1)."""
    angles = rng.uniform(0, 2 * np.pi, n)
    y = rng.integers(0, 2, n)
    radius = np.where(y == 1, inner, 1.0)
    return radius[:, None] * np.c_[np.cos(angles), np.sin(angles)] + rng.normal(0, noise, (n, 2)), y


def make_xor(n: int, rng: np.random.Generator, noise: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """Four blobs at (+-1, +-1): label 1 where the coordinates' signs differ (exclusive or)."""
    centres = rng.choice([-1.0, 1.0], size=(n, 2))
    y = (centres[:, 0] != centres[:, 1]).astype(np.int64)
    return centres + rng.normal(0, noise, (n, 2)), y


def make_dataset(name: str, n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points (n, 2) float32 of a toy problem, centred, and their labels (n,) int64."""
    makers = {"moons": make_moons, "circles": make_circles, "xor": make_xor}
    if name not in makers:
        raise ValueError(f"unknown toy data set {name!r}; choose from {DATASETS}")
    x, y = makers[name](n, np.random.default_rng(seed))
    if name == "moons":
        x = x - np.array([0.5, 0.25])  # centre the two moons on the origin
    return x.astype(np.float32), y.astype(np.int64)


def train_toy(x: np.ndarray, y: np.ndarray, activation: str, hidden: int = 16, epochs: int = 150,
              seed: int = 0) -> MLP:
    """A 2-``hidden``-1 network with ``activation``, trained by the numpy Solver (Adam, batch 32)."""
    model = MLP([2, hidden, 1], activation=activation, init="he" if activation == "relu" else "xavier", seed=seed)
    Solver(model, Adam(0.02), x, y, TrainConfig(epochs=epochs, batch_size=32, patience=0, seed=seed)).train()
    return model


def decision_regions(model: MLP, bounds: tuple[float, float, float, float], resolution: int = 150
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A grid over ``bounds`` (x0, x1, y0, y1) and the model's P(label 1) at every point: (R, R) each."""
    xs, ys = np.meshgrid(np.linspace(bounds[0], bounds[1], resolution), np.linspace(bounds[2], bounds[3], resolution))
    points = np.c_[xs.ravel(), ys.ravel()].astype(np.float32)
    return xs, ys, model.probabilities(points).reshape(xs.shape)


def toy_results(n: int = 400, seed: int = 0) -> list[dict]:
    """Every toy problem x every activation: the trained model's test accuracy (fresh points from the
    same generator) and its decision regions, ready for ``figures.plot_toy_boundaries``."""
    results = []
    for name in DATASETS:
        x, y = make_dataset(name, n, seed)
        x_test, y_test = make_dataset(name, n, seed + 1)
        pad = 0.4
        bounds = (x[:, 0].min() - pad, x[:, 0].max() + pad, x[:, 1].min() - pad, x[:, 1].max() + pad)
        for activation in TOY_ACTIVATIONS:
            model = train_toy(x, y, activation, seed=seed)
            accuracy = float(np.mean(model.predictions(model.logits(x_test)) == y_test))
            xs, ys, p = decision_regions(model, bounds)
            results.append({"dataset": name, "activation": activation, "accuracy": accuracy, "x": x, "y": y,
                            "grid_x": xs, "grid_y": ys, "probability": p})
    return results
