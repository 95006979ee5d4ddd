"""Losses fused with their output activation, so that gradients are simple and stable.

Both return the mean loss over the batch and the gradient with respect to the logits.
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
