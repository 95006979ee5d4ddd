"""Losses fused with their output activation, so that gradients are simple and stable.

Each returns the mean loss over the batch and the gradient with respect to the logits.
``OUTPUT_GRADIENTS`` names the gradients a binary network's output may train with.
"""
from __future__ import annotations

import numpy as np

from common.nn.layers import sigmoid, softmax


def binary_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Sigmoid + binary cross-entropy on logits.

    logits: (N,) or (N, 1); y: same number of labels in {0, 1}.
    loss = mean(max(z, 0) - z y + log(1 + exp(-|z|))), which never overflows;
    dlogits = (sigmoid(z) - y) / N, shaped like ``logits``.
    """
    z = logits.reshape(len(logits))
    y = y.reshape(len(y)).astype(z.dtype, copy=False)
    loss = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    grad = (sigmoid(z) - y) / len(z)
    return float(loss.mean()), grad.reshape(logits.shape)


def binary_cross_entropy_squared_error_gradient(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Binary cross-entropy as the loss reported, but the gradient of the squared error (p - y)^2 / 2.

    What a network computes when it passes dz = p - y (the cross-entropy gradient at the logit) into an
    output layer whose backward multiplies by the sigmoid's derivative again, as report 000's code does
    (its sections 1.7-1.8): dlogits = (p - y) p (1 - p) / N, shaped like ``logits``; the loss value is
    ``binary_cross_entropy``'s, which is what such a training loop prints.
    """
    loss, _ = binary_cross_entropy(logits, y)
    z = logits.reshape(len(logits))
    p = sigmoid(z)
    grad = (p - y.reshape(len(y)).astype(z.dtype, copy=False)) * p * (1 - p) / len(z)
    return loss, grad.reshape(logits.shape)


# The gradient a binary (one-output) network trains with: the cross-entropy's own (p - y), or the squared
# error's (p - y) p (1 - p) while the cross-entropy is reported (report 000's code).
OUTPUT_GRADIENTS = {"cross_entropy": binary_cross_entropy, "squared_error": binary_cross_entropy_squared_error_gradient}


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax + cross-entropy on logits.

    logits: (N, K); y: (N,) int labels or (N, K) one-hot rows.
    loss = mean(logsumexp(z) - z_y) with the row max subtracted first (log-sum-exp trick);
    dlogits = (softmax(z) - onehot(y)) / N, (N, K).
    """
    n = len(logits)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    p = softmax(logits)
    if y.ndim == 2:
        loss = (log_norm - (shifted * y).sum(axis=1)).mean()
        grad = (p - y) / n
    else:
        rows = np.arange(n)
        loss = (log_norm - shifted[rows, y]).mean()
        grad = p
        grad[rows, y] -= 1
        grad /= n
    return float(loss), grad.astype(logits.dtype, copy=False)
