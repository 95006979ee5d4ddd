"""Task views: relabelling, flattening, standardizing, one-hot, stratified splits."""
from __future__ import annotations

import numpy as np
import pytest

from common.data import Cifar10
from common import tasks as T
from tests import helpers


def test_airplane_vs_rest_both_conventions():
    labels = np.array([0, 1, 2, 0, 9])
    y, names = T.airplane_vs_rest(labels)
    assert y.tolist() == [1, 0, 0, 1, 0] and names == ("rest", "airplane")
    y, names = T.airplane_vs_rest(labels, airplane_label=0)
    assert y.tolist() == [0, 1, 1, 0, 1] and names == ("airplane", "rest")
    with pytest.raises(ValueError):
        T.airplane_vs_rest(labels, airplane_label=2)


def test_flatten_scaled_and_hflip():
    images = np.random.default_rng(0).integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    flat = T.flatten_scaled(images)
    assert flat.shape == (3, 3072) and flat.dtype == np.float32
    np.testing.assert_allclose(flat[1, :3], images[1, 0, 0] / 255, rtol=1e-6)
    flipped = T.hflip_flat(flat)
    np.testing.assert_array_equal(flipped.reshape(3, 32, 32, 3), flat.reshape(3, 32, 32, 3)[:, :, ::-1])


def test_standardizer_uses_training_statistics():
    rng = np.random.default_rng(0)
    x = (rng.normal(3, 2, size=(5000, 7))).astype(np.float32)
    scaler = T.Standardizer.fit(x)
    z = scaler.transform(x)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-4)
    np.testing.assert_allclose(scaler.mean, x.astype(np.float64).mean(axis=0), rtol=1e-6)
    constant = T.Standardizer.fit(np.ones((4, 2), np.float32))
    assert np.all(np.isfinite(constant.transform(np.ones((1, 2), np.float32))))
    same = x.copy()
    assert scaler.transform(same, inplace=True) is same


def test_one_hot():
    np.testing.assert_array_equal(T.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError):
        T.one_hot(np.array([3]), 3)


def test_stratified_split_keeps_proportions_and_is_seeded():
    labels = np.repeat(np.arange(10), [100, 200, 300, 100, 100, 100, 100, 100, 100, 800])
    train, val = T.stratified_split(labels, 200, seed=0)
    assert len(val) == 200 and len(train) == len(labels) - 200
    assert not set(train) & set(val)
    expected = 200 * np.bincount(labels) / len(labels)
    assert np.all(np.abs(np.bincount(labels[val], minlength=10) - expected) <= 1)
    np.testing.assert_array_equal(val, T.stratified_split(labels, 200, seed=0)[1])
    assert not np.array_equal(val, T.stratified_split(labels, 200, seed=1)[1])
    with pytest.raises(ValueError):
        T.stratified_split(labels, 0, seed=0)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_flat_splits(task):
    x_train, y_train, x_test, y_test = helpers.synthetic_arrays(train_per_class=10, test_per_class=3)
    data = Cifar10(x_train, y_train, x_test, y_test, ("airplane", "automobile", "bird", "cat", "deer",
                                                       "dog", "frog", "horse", "ship", "truck"), "synthetic")
    splits = T.flat_splits(data, task=task, val_size=20, seed=0, hflip_train=True)
    assert splits.x_train.shape == (160, 3072) and splits.x_val.shape == (20, 3072)
    assert splits.x_test.shape == (30, 3072) and splits.x_train.dtype == np.float32
    np.testing.assert_allclose(splits.x_train[:80].mean(axis=0), 0, atol=1e-4)
    np.testing.assert_array_equal(splits.y_train[:80], splits.y_train[80:])
    assert splits.n_classes == (2 if task == "binary" else 10)
    subset = T.flat_splits(data, task=task, val_size=20, seed=0, train_subset=30)
    assert subset.x_train.shape == (30, 3072)
    with pytest.raises(ValueError):
        T.flat_splits(data, task="regression")
