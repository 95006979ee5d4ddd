"""Where things live: the project root, the report files, the data folder, the reports folder and
Keras' cache -- and which folder of reports/ a run writes to, decided here once:

    reports/partN/                       this suite's recipes (tuned, quick)
    reports/<report id>/partN/           a report's recipe rerun (--report 000: student_reports/000.toml)
    reports/[<report id>/]variants/partN/<changes>/
                                         a run whose settings differ from its recipe's (a variant); the
                                         page finds variants by their records' fields, not by this name
    reports/[<report id>/]logs/<run>.log  each run's log when make all / make reproduce run them side by side
"""
from __future__ import annotations

import os
import re
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REPORTS_DIR = PROJECT_ROOT / "reports"  # generated output, git-ignored
REPORT_FILES_DIR = PROJECT_ROOT / "student_reports"  # the reports checked, one TOML file each (tracked)
VARIANTS = "variants"  # the folder of a recipe's variants, beside its parts' folders
LOGS = "logs"  # make all / make reproduce: each side-by-side run's log, beside the parts' folders


def recipe_folder(reports: Path, report_id: str | None = None) -> Path:
    """The folder whose partN/ subfolders hold runs of a recipe: reports/ for this suite's, reports/<id>/
    for a report's."""
    return Path(reports) / report_id if report_id else Path(reports)


def run_folder(reports: Path, part: str, report_id: str | None = None, variant: str = "") -> Path:
    """Where a run of ``part`` goes: its recipe's folder, or, for a variant (``variant``: what it changed,
    as text), a folder of its own under the recipe's variants/."""
    root = recipe_folder(reports, report_id)
    return root / VARIANTS / part / variant_slug(variant) if variant else root / part


def variant_slug(changes: str, limit: int = 60) -> str:
    """A folder name from a variant's changes: 'epochs-3_lr-0.1'; long ones cut, with a hash to stay apart."""
    slug = re.sub(r"[^A-Za-z0-9.+=-]+", "_", changes).strip("_").replace("=", "-") or "variant"
    if len(slug) > limit:
        import hashlib
        slug = f"{slug[:limit - 9]}_{hashlib.sha256(changes.encode()).hexdigest()[:8]}"
    return slug


def data_dir() -> Path:
    """Downloads and conversion caches: ``$CIFAR10_DATA_DIR`` or the project's ``data/`` folder."""
    return Path(os.environ.get("CIFAR10_DATA_DIR") or PROJECT_ROOT / "data")


def keras_datasets_dir() -> Path:
    """Where Keras keeps downloaded data sets (``$KERAS_HOME`` or ``~/.keras``)."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "datasets"
