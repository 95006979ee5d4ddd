"""Where things live: the project root, the data folder, the reports folder and Keras' cache."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REPORTS_DIR = PROJECT_ROOT / "reports"  # generated output, git-ignored
ASSIGNMENT_REPORTS_DIR = REPORTS_DIR / "assignment"  # `make reproduce`: the assignment's recipes rerun


def data_dir() -> Path:
    """Downloads and conversion caches: ``$CIFAR10_DATA_DIR`` or the project's ``data/`` folder."""
    return Path(os.environ.get("CIFAR10_DATA_DIR") or PROJECT_ROOT / "data")


def keras_datasets_dir() -> Path:
    """Where Keras keeps downloaded data sets (``$KERAS_HOME`` or ``~/.keras``)."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "datasets"
