"""Weight initializers. Each returns a (fan_in, fan_out) matrix; biases start at zero."""
from __future__ import annotations

import numpy as np


def small_random(fan_in: int, fan_out: int, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """N(0, 0.01^2): the classic small random start (vanishes in deep or sigmoid nets)."""
    return (rng.standard_normal((fan_in, fan_out)) * 0.01).astype(dtype)


def he(fan_in: int, fan_out: int, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """He/Kaiming normal N(0, 2 / fan_in): keeps ReLU activations' variance constant."""
    return (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(dtype)


def xavier(fan_in: int, fan_out: int, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """Glorot/Xavier normal N(0, 2 / (fan_in + fan_out)): suits sigmoid and tanh."""
    return (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / (fan_in + fan_out))).astype(dtype)


def lecun(fan_in: int, fan_out: int, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """LeCun normal N(0, 1 / fan_in): unit-variance pre-activations for unit-variance inputs."""
    return (rng.standard_normal((fan_in, fan_out)) * np.sqrt(1.0 / fan_in)).astype(dtype)


INITIALIZERS = {"small": small_random, "he": he, "xavier": xavier, "lecun": lecun}
