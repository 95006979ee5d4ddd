"""A multilayer perceptron built from the layer pairs in ``layers.py``.

``sizes=[3072, 1]`` is Part 1's single logistic neuron; ``[3072, 64, 1]`` Part 2's network;
``[3072, 64, 10]`` Part 3's. The last layer emits logits; the loss applies sigmoid (one output)
or softmax (several) fused with cross-entropy.
"""
from __future__ import annotations

import numpy as np

from common.nn.init import INITIALIZERS
from common.nn.layers import (
    ACTIVATIONS,
    MAX_SLOPE,
    SATURATING,
    dense_backward,
    dense_forward,
    flush_subnormals,
    sigmoid,
    softmax,
)
from common.nn.losses import OUTPUT_GRADIENTS, softmax_cross_entropy

DEAD_SLOPE = 0.01  # a unit passing under 1 % of the largest gradient it can pass, for every probe image, is dead
SATURATED_SLOPE = 0.10  # an activation passing under 10 % of it is saturated


class MLP:
    """Dense layers with one hidden activation; parameters ``[W1, b1, W2, b2, ...]``.

    ``output_init``: the last layer's initializer (None: ``init``), e.g. He for the hidden layer and LeCun
    for the output. ``output_gradient`` (one output only): "cross_entropy" trains with the loss's own gradient p - y;
    "squared_error" with (p - y) p (1 - p) while reporting the cross-entropy (losses.OUTPUT_GRADIENTS).
    """

    def __init__(self, sizes: list[int], activation: str = "sigmoid", init: str = "xavier",
                 seed: int = 0, l2: float = 0.0, dtype=np.float32, output_gradient: str = "cross_entropy",
                 output_init: str | None = None):
        if len(sizes) < 2:
            raise ValueError(f"sizes needs an input and an output size, got {sizes}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
        output_init = output_init or init
        for name in (init, output_init):
            if name not in INITIALIZERS:
                raise ValueError(f"unknown initializer {name!r}; choose from {sorted(INITIALIZERS)}")
        if output_gradient not in OUTPUT_GRADIENTS:
            raise ValueError(f"unknown output gradient {output_gradient!r}; choose from {sorted(OUTPUT_GRADIENTS)}")
        self.sizes, self.activation, self.init, self.l2 = list(sizes), activation, init, l2
        rng = np.random.default_rng(seed)
        self.params: list[np.ndarray] = []
        for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            start = INITIALIZERS[output_init if layer == len(sizes) - 2 else init]
            self.params += [start(fan_in, fan_out, rng, dtype), np.zeros(fan_out, dtype)]
        self.binary = sizes[-1] == 1
        self.loss_fn = OUTPUT_GRADIENTS[output_gradient] if self.binary else softmax_cross_entropy
        self._act_forward, self._act_backward = ACTIVATIONS[activation]

    @property
    def n_params(self) -> int:
        return int(sum(p.size for p in self.params))

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list]:
        """x: (N, D) -> logits (N, K) and the caches of every layer, in order."""
        caches, h = [], x
        n_layers = len(self.params) // 2
        for layer in range(n_layers):
            h, cache = dense_forward(h, self.params[2 * layer], self.params[2 * layer + 1])
            caches.append(cache)
            if layer < n_layers - 1:
                h, cache = self._act_forward(h)
                caches.append(cache)
        return h, caches

    def backward(self, dlogits: np.ndarray, caches: list) -> list[np.ndarray]:
        """dlogits: (N, K) -> gradients aligned with ``self.params`` (L2 term included)."""
        grads: list[np.ndarray] = [None] * len(self.params)
        n_layers = len(self.params) // 2
        d = flush_subnormals(dlogits)  # what enters the matrix products stays normal: see flush_subnormals
        for layer in reversed(range(n_layers)):
            if layer < n_layers - 1:
                d = flush_subnormals(self._act_backward(d, caches.pop()))
            d, dw, db = dense_backward(d, caches.pop(), need_input_grad=layer > 0)
            if self.l2:
                dw += self.l2 * self.params[2 * layer]
            grads[2 * layer], grads[2 * layer + 1] = dw, db
        return grads

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray], np.ndarray]:
        """Mean loss (L2 penalty included), gradients, and the logits (N, K) of batch ``x``."""
        logits, caches = self.forward(x)
        loss, dlogits = self.loss_fn(logits, y)
        if self.l2:
            loss += 0.5 * self.l2 * sum(float(np.vdot(w, w)) for w in self.params[::2])
        return loss, self.backward(dlogits, caches), logits

    def logits(self, x: np.ndarray, batch_size: int = 8192) -> np.ndarray:
        """Logits (N, K) in batches, without keeping caches."""
        return np.concatenate([self.forward(x[i:i + batch_size])[0] for i in range(0, len(x), batch_size)])

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """(N,) probability of class 1 for a binary net, (N, K) class probabilities otherwise."""
        z = self.logits(x)
        return sigmoid(z[:, 0]) if self.binary else softmax(z)

    def predictions(self, logits: np.ndarray, threshold: float = 0.5) -> np.ndarray:
        """(N,) int labels from logits; binary nets compare sigmoid(logit) with ``threshold``."""
        if self.binary:
            if threshold == 0.5:  # sigmoid(z) >= 0.5 exactly when z >= 0: no exp needed
                return (logits[:, 0] >= 0).astype(np.int64)
            return (sigmoid(logits[:, 0]) >= threshold).astype(np.int64)
        return logits.argmax(axis=1)

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Mean loss (without the L2 penalty) and accuracy on (x, y)."""
        z = self.logits(x)
        loss, _ = self.loss_fn(z, y)
        return loss, float(np.mean(self.predictions(z) == y))

    def unit_activity(self, x: np.ndarray) -> dict[str, float]:
        """How the hidden units behave on ``x`` (N, D), a fixed probe batch of training images; {} without
        a hidden layer. A unit's slope is its activation's derivative over the largest it can be
        (``MAX_SLOPE``): the share of the gradient it passes back for that image.

        dead_units: the share of hidden units whose slope is below DEAD_SLOPE (1 %) for every image of x; for
            ReLU, units that output 0 for all of them. Such a unit learns nothing more from these images.
        saturated_units (sigmoid and tanh only): the share of (image, unit) pairs whose slope is below
            SATURATED_SLOPE (10 %): sigmoid outputs below 0.026 or above 0.974, tanh outputs beyond +-0.949.
        """
        slopes = []
        h, n_layers = x, len(self.params) // 2
        for layer in range(n_layers - 1):
            h, _ = dense_forward(h, self.params[2 * layer], self.params[2 * layer + 1])
            h, cache = self._act_forward(h)
            slopes.append(self._act_backward(np.ones_like(h), cache) / MAX_SLOPE[self.activation])
        if not slopes:
            return {}
        slope = np.concatenate(slopes, axis=1)  # (N, hidden units of every layer)
        activity = {"dead_units": float(np.mean(np.all(slope < DEAD_SLOPE, axis=0)))}
        if self.activation in SATURATING:
            activity["saturated_units"] = float(np.mean(slope < SATURATED_SLOPE))
        return activity

    def state(self) -> list[np.ndarray]:
        """A copy of the parameters."""
        return [p.copy() for p in self.params]

    def load_state(self, state: list[np.ndarray]) -> None:
        """Copy ``state`` into the parameters in place (optimizers keep their references)."""
        for p, saved in zip(self.params, state):
            p[...] = saved
