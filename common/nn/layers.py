"""Layer and activation pairs in the CS231n style.

``*_forward`` returns the output and a cache holding what the backward pass needs;
``*_backward`` takes the upstream gradient ``dout`` (same shape as the output) and the cache,
and returns the gradient with respect to the input (and to the parameters, for dense).
Shapes: N samples, D inputs, M outputs. Everything stays in the input's dtype (float32 in
training, float64 in the gradient checks).
"""
from __future__ import annotations

import numpy as np


def dense_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Affine layer ``out = x @ w + b``.

    x: (N, D), w: (D, M), b: (M,) -> out: (N, M); cache (x, w).
    """
    out = x @ w
    out += b
    return out, (x, w)


def dense_backward(dout: np.ndarray, cache: tuple, need_input_grad: bool = True
                   ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Gradients of the affine layer.

    dout: (N, M) -> dx: (N, D) (None when ``need_input_grad`` is False: the first layer's input
    gradient is never used, and skipping it saves a third of the work), dw: (D, M), db: (M,).
    """
    x, w = cache
    dx = dout @ w.T if need_input_grad else None
    return dx, x.T @ dout, dout.sum(axis=0)


def flush_subnormals(a: np.ndarray) -> np.ndarray:
    """Set the subnormal entries of ``a`` (0 < |a| < the dtype's smallest normal number, 1.2e-38 in
    float32) to zero, in place, and return ``a``.

    Why: once a network has trained long enough to saturate its units, sigmoid outputs and the
    gradients behind them (s (1 - s) times a small upstream gradient) land there, and x86 CPUs
    multiply subnormals many times more slowly than normal numbers: a 64-image weight-gradient product
    with a few per mille subnormal entries ran 6x slower, and report 000's 1000-epoch Part 4 runs
    slowed from 0.7 s to 1.5 s per epoch. Flushing changes no value by more than 1.2e-38.
    """
    a[np.abs(a) < np.finfo(a.dtype).tiny] = 0
    return a


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, stable for large |x|: exp is only ever taken of -|x|. Subnormal outputs
    (x < -87 in float32) are flushed to zero (see ``flush_subnormals``)."""
    e = np.exp(-np.abs(x))
    return flush_subnormals(np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False))


def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x: (N, M) -> out (N, M) in (0, 1); cache: out."""
    out = sigmoid(x)
    return out, out


def sigmoid_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """d sigmoid / dx = s (1 - s). dout: (N, M) -> dx: (N, M)."""
    s = cache
    return dout * s * (1 - s)


def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x: (N, M) -> out (N, M) in (-1, 1); cache: out."""
    out = np.tanh(x)
    return out, out


def tanh_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """d tanh / dx = 1 - tanh^2. dout: (N, M) -> dx: (N, M)."""
    t = cache
    return dout * (1 - t * t)


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x: (N, M) -> out = max(x, 0); cache: the mask x > 0."""
    mask = x > 0
    return x * mask, mask


def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Gradient passes where the input was positive (0 at x == 0). dout: (N, M) -> dx: (N, M)."""
    return dout * cache


def identity_forward(x: np.ndarray) -> tuple[np.ndarray, None]:
    """The linear "activation": out = x (N, M). A network made of it is a linear model however deep,
    which makes it the control that shows what the nonlinear activations add."""
    return x, None


def identity_backward(dout: np.ndarray, cache: None) -> np.ndarray:
    """d x / dx = 1: the gradient passes unchanged. dout: (N, M) -> dx: (N, M)."""
    return dout


def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits x: (N, K) -> (N, K), stable by subtracting the row max."""
    shifted = x - x.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def softmax_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x: (N, K) -> probabilities (N, K); cache: the probabilities."""
    p = softmax(x)
    return p, p


def softmax_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Jacobian-vector product of softmax: dx = p * (dout - sum(dout * p)). (N, K) -> (N, K).

    Training never calls this: ``softmax_cross_entropy`` fuses softmax and loss into ``p - y``.
    """
    p = cache
    return p * (dout - (dout * p).sum(axis=1, keepdims=True))


ACTIVATIONS = {
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "relu": (relu_forward, relu_backward),
    "tanh": (tanh_forward, tanh_backward),
    "identity": (identity_forward, identity_backward),
}
# The largest slope each activation has (sigmoid's 0.25 at 0): a unit's slope over this is the share of the
# gradient it passes back, which MLP.unit_activity measures.
MAX_SLOPE = {"sigmoid": 0.25, "relu": 1.0, "tanh": 1.0, "identity": 1.0}
# Activations that saturate: bounded, with a slope that vanishes at both ends.
SATURATING = ("sigmoid", "tanh")
