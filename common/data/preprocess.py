"""From the data set to the arrays a network trains on: binary relabelling, flattening, scaling,
standardization, the train/validation split, mirrored copies.

Every part carves its validation split from the 50,000 training images with
``stratified_split``; the test set is only touched for the final evaluation.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from common.data.cifar10 import Cifar10

AIRPLANE = 0  # index of "airplane" in CIFAR-10's label order


def airplane_vs_rest(labels: np.ndarray, airplane_label: int = 1) -> tuple[np.ndarray, tuple[str, str]]:
    """Relabel CIFAR-10 labels (N,) as airplane vs the rest.

    ``airplane_label=1`` (default) makes airplane the positive class; ``airplane_label=0`` is the
    convention of report 000 (airplane 0, rest 1). Returns labels (N,) int64 in {0, 1} and the
    two class names in label order.
    """
    if airplane_label not in (0, 1):
        raise ValueError(f"airplane_label must be 0 or 1, got {airplane_label}")
    is_airplane = labels == AIRPLANE
    binary = np.where(is_airplane, airplane_label, 1 - airplane_label).astype(np.int64)
    names = ("airplane", "rest") if airplane_label == 0 else ("rest", "airplane")
    return binary, names


def flatten_scaled(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 32, 32, 3) -> float32 (N, 3072) in [0, 1], pixels in HWC order."""
    flat = images.reshape(len(images), -1)
    return np.multiply(flat, np.float32(1 / 255), dtype=np.float32)


@dataclass
class Standardizer:
    """Per-feature standardization with statistics fitted on training data only."""

    mean: np.ndarray  # (D,) float32
    std: np.ndarray   # (D,) float32

    @classmethod
    def fit(cls, x: np.ndarray, eps: float = 1e-6, chunk: int = 2048) -> Standardizer:
        """x: (N, D). Sums accumulate in float64, chunk by chunk (no full float64 copy)."""
        total = np.zeros(x.shape[1])
        total_sq = np.zeros(x.shape[1])
        for i in range(0, len(x), chunk):
            block = x[i:i + chunk].astype(np.float64)
            total += block.sum(axis=0)
            total_sq += np.einsum("ij,ij->j", block, block)
        mean = total / len(x)
        std = np.sqrt(np.maximum(total_sq / len(x) - mean * mean, 0))
        return cls(mean.astype(np.float32), np.maximum(std, eps).astype(np.float32))

    def transform(self, x: np.ndarray, inplace: bool = False) -> np.ndarray:
        """(N, D) float32 -> (N, D) float32 standardized; a new array unless ``inplace``."""
        out = x if inplace else x.copy()
        out -= self.mean
        out /= self.std
        return out


def stratified_split(labels: np.ndarray, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices of ``labels`` (N,) into train and validation, keeping class proportions.

    Each class gives round(val_size * its share) images (the remainder goes to the largest
    fractional parts). Returns sorted (train_idx, val_idx), int64.
    """
    n = len(labels)
    if not 0 < val_size < n:
        raise ValueError(f"val_size must be between 1 and {n - 1}, got {val_size}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    exact = val_size * counts / n
    per_class = np.floor(exact).astype(int)
    remainder = val_size - per_class.sum()
    per_class[np.argsort(-(exact - per_class), kind="stable")[:remainder]] += 1
    val = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, per_class)]
    val_idx = np.sort(np.concatenate(val))
    train_mask = np.ones(n, dtype=bool)
    train_mask[val_idx] = False
    return np.flatnonzero(train_mask), val_idx


@dataclass
class FlatSplits:
    """Flat features (N, 3072) float32 and int64 labels for train/validation/test.

    Without a validation split (``val_size=0``) ``x_val`` and ``y_val`` are None."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def validation(self) -> tuple[np.ndarray, np.ndarray] | None:
        return None if self.x_val is None else (self.x_val, self.y_val)


def train_validation_indices(labels: np.ndarray, val_size: int, seed: int,
                             train_subset: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sorted indices of the training and validation images; every image trains when ``val_size`` is 0.

    ``train_subset`` keeps a random N of the training indices (the same N for the same seed)."""
    if val_size:
        train_idx, val_idx = stratified_split(labels, val_size, seed)
    else:
        train_idx, val_idx = np.arange(len(labels)), np.array([], dtype=np.int64)
    if train_subset is not None:
        train_idx = np.sort(np.random.default_rng(seed).permutation(train_idx)[:train_subset])
    return train_idx, val_idx


def flat_splits(data: Cifar10, *, task: str, val_size: int = 5000, seed: int = 0,
                train_subset: int | None = None, airplane_label: int = 1,
                hflip_train: bool = False, standardize: bool = True) -> FlatSplits:
    """The MLP parts' view: stratified train/validation split, flattened, pixels / 255, then
    standardized with the training images' per-pixel mean and std (``standardize``).

    task: "binary" (airplane vs rest) or "multiclass" (10 classes). ``val_size=0`` trains on all
    50,000 images (no validation split). ``train_subset`` keeps a random N training images.
    ``hflip_train`` appends a mirrored copy of every training image (augmentation; the
    validation and test sets are never augmented).
    """
    if task == "binary":
        y_all, names = airplane_vs_rest(data.y_train, airplane_label)
        y_test, _ = airplane_vs_rest(data.y_test, airplane_label)
    elif task == "multiclass":
        y_all, y_test, names = data.y_train, data.y_test, data.class_names
    else:
        raise ValueError(f"task must be 'binary' or 'multiclass', got {task!r}")
    train_idx, val_idx = train_validation_indices(data.y_train, val_size, seed, train_subset)
    n = len(train_idx)
    # One allocation for the whole training matrix: fresh memory is slow to touch, copies add up.
    x_train = np.empty((2 * n if hflip_train else n, 3072), dtype=np.float32)
    np.multiply(data.x_train[train_idx].reshape(n, -1), np.float32(1 / 255), out=x_train[:n])
    x_val = flatten_scaled(data.x_train[val_idx]) if val_size else None
    x_test = flatten_scaled(data.x_test)
    if standardize:
        scaler = Standardizer.fit(x_train[:n])
        for x in (x_train[:n], x_val, x_test):
            if x is not None:
                scaler.transform(x, inplace=True)
    y_train = y_all[train_idx]
    if hflip_train:
        x_train[n:].reshape(n, 32, 32, 3)[...] = x_train[:n].reshape(n, 32, 32, 3)[:, :, ::-1, :]
        y_train = np.concatenate([y_train, y_train])
    return FlatSplits(x_train, y_train, x_val, y_all[val_idx] if val_size else None, x_test, y_test,
                      tuple(names))


def hold_out_test(data: Cifar10, n: int, seed: int) -> Cifar10:
    """``data`` with a random ``n`` of its training images (not stratified; the same for the same seed) as
    the test set instead of CIFAR-10's own, the rest as the training images: what a report that split the
    50,000 training images itself tested on. ``n`` 0 leaves ``data`` as it is."""
    if not n:
        return data
    if not 0 < n < len(data.y_train):
        raise ValueError(f"cannot hold out {n} of {len(data.y_train)} training images as the test set")
    order = np.random.default_rng(seed).permutation(len(data.y_train))
    test_idx, train_idx = np.sort(order[:n]), np.sort(order[n:])
    return replace(data, x_train=data.x_train[train_idx], y_train=data.y_train[train_idx],
                   x_test=data.x_train[test_idx], y_test=data.y_train[test_idx])


def held_out_as_trained(data: Cifar10, config: dict) -> Cifar10:
    """``data`` split as the run whose saved ``config`` (a dict; a comparison's in its base) trained on it."""
    settings = config.get("base") if isinstance(config.get("base"), dict) else config
    n = settings.get("test_from_train") or 0
    return hold_out_test(data, n, settings.get("seed", 0)) if n else data
