"""Preprocessing: relabelling, flattening, scaling, standardizing, splits, mirrored copies."""
from __future__ import annotations

import numpy as np
import pytest

from common.data import preprocess as T
from common.data.cifar10 import Cifar10
from tests import helpers


def test_airplane_vs_rest_both_conventions():
    labels = np.array([0, 1, 2, 0, 9])
    y, names = T.airplane_vs_rest(labels)
    assert y.tolist() == [1, 0, 0, 1, 0] and names == ("rest", "airplane")
    y, names = T.airplane_vs_rest(labels, airplane_label=0)
    assert y.tolist() == [0, 1, 1, 0, 1] and names == ("airplane", "rest")
    with pytest.raises(ValueError):
        T.airplane_vs_rest(labels, airplane_label=2)


def test_flatten_scaled():
    images = np.random.default_rng(0).integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    flat = T.flatten_scaled(images)
    assert flat.shape == (3, 3072) and flat.dtype == np.float32
    np.testing.assert_allclose(flat[1, :3], images[1, 0, 0] / 255, rtol=1e-6)


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


def _synthetic_data() -> Cifar10:
    x_train, y_train, x_test, y_test = helpers.synthetic_arrays(train_per_class=10, test_per_class=3)
    return Cifar10(x_train, y_train, x_test, y_test, ("airplane", "automobile", "bird", "cat", "deer",
                                                      "dog", "frog", "horse", "ship", "truck"), "synthetic")


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_flat_splits(task):
    data = _synthetic_data()
    splits = T.flat_splits(data, task=task, val_size=20, seed=0, hflip_train=True)
    assert splits.x_train.shape == (160, 3072) and splits.x_val.shape == (20, 3072)
    assert splits.x_test.shape == (30, 3072) and splits.x_train.dtype == np.float32
    np.testing.assert_allclose(splits.x_train[:80].mean(axis=0), 0, atol=1e-4)
    np.testing.assert_array_equal(splits.y_train[:80], splits.y_train[80:])
    mirrored = splits.x_train[80:].reshape(80, 32, 32, 3)
    np.testing.assert_array_equal(mirrored, splits.x_train[:80].reshape(80, 32, 32, 3)[:, :, ::-1])
    assert splits.n_classes == (2 if task == "binary" else 10)
    subset = T.flat_splits(data, task=task, val_size=20, seed=0, train_subset=30)
    assert subset.x_train.shape == (30, 3072)
    with pytest.raises(ValueError):
        T.flat_splits(data, task="regression")


def test_no_validation_split_and_unit_scaling_are_the_assignment_view():
    data = _synthetic_data()
    splits = T.flat_splits(data, task="binary", val_size=0, airplane_label=0, standardize=False)
    assert splits.x_val is None and splits.validation is None and len(splits.x_train) == 100
    np.testing.assert_allclose(splits.x_train, data.x_train.reshape(100, -1) / 255, rtol=1e-6)  # pixels / 255
    assert splits.x_train.min() >= 0 and splits.x_train.max() <= 1
    np.testing.assert_array_equal(splits.y_train, (data.y_train != 0).astype(np.int64))  # airplane 0, rest 1
    assert splits.class_names == ("airplane", "rest")
    train, val = T.train_validation_indices(data.y_train, 0, seed=0, train_subset=30)
    assert len(train) == 30 and len(val) == 0


def test_a_test_set_held_out_of_the_training_images():
    from common.data.cifar10 import CLASS_NAMES
    from common.data.preprocess import held_out_as_trained, hold_out_test
    data = Cifar10(*helpers.synthetic_arrays(train_per_class=20, test_per_class=2, seed=0), class_names=CLASS_NAMES,
                   source="synthetic")
    held = hold_out_test(data, 50, seed=3)
    assert len(held.y_test) == 50 and len(held.y_train) == 150 and hold_out_test(data, 0, 3) is data
    together = np.concatenate([held.x_train, held.x_test]).reshape(200, -1)
    assert len(np.unique(together, axis=0)) == len(np.unique(data.x_train.reshape(200, -1), axis=0))  # a split
    again = held_out_as_trained(data, {"base": {"test_from_train": 50, "seed": 3}})
    np.testing.assert_array_equal(again.x_test, held.x_test)  # the figures see the images the run tested on
