"""Where things live: the project root, the data folder, the reports folder and Keras' cache."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REPORTS_DIR = PROJECT_ROOT / "reports"  # generated output, git-ignored
ASSIGNMENT_REPORTS_DIR = REPORTS_DIR / "assignment"  # `make reproduce`: the assignment's recipes rerun
REPORT_RECIPES = ("assignment",)  # the recipes of a student's report; every other recipe is this suite's


def recipe_root(reports: Path, recipe: str) -> Path:
    """The folder whose partN/ subfolders hold runs of ``recipe``: reports/assignment/ for a report's
    recipe, reports/ itself for this suite's. The one place that decides where a recipe's runs go."""
    return Path(reports) / ASSIGNMENT_REPORTS_DIR.name if recipe in REPORT_RECIPES else Path(reports)


def recipe_roots(out: Path) -> tuple[Path, Path]:
    """(this suite's root, the report's root) for a part folder ``out``: reports/partN pairs with
    reports/assignment/partN, and the other way round."""
    out = Path(out)
    if out.parent.name == ASSIGNMENT_REPORTS_DIR.name:
        return out.parent.parent, out.parent
    return out.parent, recipe_root(out.parent, REPORT_RECIPES[0])


def data_dir() -> Path:
    """Downloads and conversion caches: ``$CIFAR10_DATA_DIR`` or the project's ``data/`` folder."""
    return Path(os.environ.get("CIFAR10_DATA_DIR") or PROJECT_ROOT / "data")


def keras_datasets_dir() -> Path:
    """Where Keras keeps downloaded data sets (``$KERAS_HOME`` or ``~/.keras``)."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "datasets"
