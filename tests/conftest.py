"""Every test runs with its own data folder and Keras home and can never reach the network."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import helpers

# Captured before the autouse fixture removes it: the real data set for integration tests.
REAL_SOURCE = os.environ.get("CIFAR10_SOURCE")


def pytest_configure(config):
    """Under ``pytest -n N`` (make test), N workers share the cores: one BLAS and torch thread each, since
    threaded BLAS processes side by side slow each other many-fold."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
        torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAR10_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("CIFAR10_SOURCE", raising=False)
    monkeypatch.setenv("CIFAR10_URL", "http://127.0.0.1:9/cifar-10-python.tar.gz")  # closed port
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.fixture
def arrays():
    return helpers.synthetic_arrays()


@pytest.fixture
def image_folder(tmp_path, arrays) -> Path:
    """A small image-folder tree (PNG, lossless) under tmp_path/tree."""
    return helpers.write_tree(tmp_path / "tree", helpers.image_tree_files(arrays))


@pytest.fixture
def learnable_folder(tmp_path) -> Path:
    """An image-folder tree big enough to train on: 60 train and 10 test images per class."""
    data = helpers.synthetic_arrays(train_per_class=60, test_per_class=10, seed=1)
    return helpers.write_tree(tmp_path / "learnable", helpers.image_tree_files(data))


@pytest.fixture(scope="session")
def real_source() -> str:
    if not REAL_SOURCE:
        pytest.skip("CIFAR10_SOURCE is not set: no real CIFAR-10 data for integration tests")
    return REAL_SOURCE


@pytest.fixture(scope="session")
def real_data_dir(tmp_path_factory) -> Path:
    """One cache of the real data set for the whole session (converted once)."""
    return tmp_path_factory.mktemp("real-data")
