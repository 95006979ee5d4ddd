"""Reports every part writes to ``reports/<part>/``: figures, metrics.json and summary.md.

Every file is written atomically (a temporary file in the same folder, then a rename), so a
crash or Ctrl-C never leaves a half-written report behind.
"""
from __future__ import annotations

import functools
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common.data import PROJECT_ROOT
from common.errors import UserError

STATUS_COMPLETE, STATUS_INCOMPLETE, STATUS_DIVERGED = "complete", "incomplete", "diverged"
_UMASK = os.umask(0o022)
os.umask(_UMASK)


# ----------------------------------------------------------------------------- files

def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual mode
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(value):
    """Convert numpy scalars/arrays and Paths inside ``value`` to plain JSON types."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None  # JSON has no NaN/inf
    if isinstance(value, Path):
        return str(value)
    return value


def atomic_write_json(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(to_jsonable(data), indent=2) + "\n")


def ensure_writable(folder: Path) -> Path:
    """Create ``folder`` and prove it is writable, before any training starts."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise UserError(f"cannot write reports to {folder} ({error.strerror}); choose another "
                        f"folder with --out or fix its permissions.") from None
    return folder


# ----------------------------------------------------------------------------- run facts

@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the code that ran (with '-dirty' when the tree has changes), or None.

    Cached: ``run_main`` asks at start-up, so a long run records the commit it started from.
    """
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment_info(device: str = "cpu") -> dict:
    """Versions and hardware the numbers were measured on."""
    info = {"python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "device": device}
    torch = sys.modules.get("torch")
    if torch is None:
        try:
            import importlib.metadata
            info["torch"] = importlib.metadata.version("torch")
        except Exception:
            info["torch"] = None
    else:
        info["torch"] = torch.__version__
        if device.startswith("cuda") and torch.cuda.is_available():
            info["device_name"] = torch.cuda.get_device_name()
    return info


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


# ----------------------------------------------------------------------------- figures

def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path: Path, dpi: int = 120) -> None:
    """Render a matplotlib figure to PNG atomically, then close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    _pyplot().close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def plot_confusion_matrix(cm: np.ndarray, class_names: tuple[str, ...], title: str):
    """Heatmap of counts with row-normalized percentages; rows true, columns predicted."""
    plt = _pyplot()
    import seaborn as sns

    cm = np.asarray(cm)
    row_share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    labels = np.array([[f"{count}\n{share:.0%}" for count, share in zip(row, shares)]
                       for row, shares in zip(cm, row_share)])
    k = len(class_names)
    size = max(4.5, 0.85 * k + 2)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    sns.heatmap(row_share * 100, annot=labels, fmt="", cmap="Blues", vmin=0, vmax=100, ax=ax,
                xticklabels=class_names, yticklabels=class_names, square=True,
                annot_kws={"fontsize": 8 if k > 4 else 11},
                cbar_kws={"label": "share of the true class (%)"})
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
    plt.setp(ax.get_yticklabels(), rotation=0)
    return fig


def plot_history(history: list[dict], title: str, best_epoch: int | None = None):
    """Train and validation loss (left) and accuracy (right) per epoch."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, label in ((ax_loss, "loss", "cross-entropy loss"), (ax_acc, "acc", "accuracy (%)")):
        scale = 100 if key == "acc" else 1
        for split, style in (("train", "-"), ("val", "--")):
            values = [h.get(f"{split}_{key}") for h in history]
            values = [np.nan if v is None else v * scale for v in values]
            ax.plot(epochs, values, style, marker="o" if len(epochs) < 30 else None, markersize=3,
                    label="train" if split == "train" else "validation")
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", linestyle=":", label=f"best epoch ({best_epoch})")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    ax_loss.set_title("loss")
    ax_acc.set_title("accuracy")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_overlaid_curves(curves: dict[str, list[dict]], title: str):
    """Validation loss (left) and accuracy (right) per epoch, one line per labelled history."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(13, 4.5))
    for label, history in curves.items():
        epochs = [h["epoch"] for h in history]
        ax_loss.plot(epochs, [h["val_loss"] for h in history], label=label)
        ax_acc.plot(epochs, [h["val_acc"] * 100 for h in history], label=label)
    for ax, ylabel in ((ax_loss, "validation cross-entropy loss"), (ax_acc, "validation accuracy (%)")):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    ax_loss.set_title("validation loss")
    ax_acc.set_title("validation accuracy")
    handles, labels = ax_acc.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=1, fontsize=9,
               bbox_to_anchor=(0.5, -0.02 - 0.045 * len(labels)))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_per_class_accuracy(per_class: dict, title: str):
    """Bar chart of each class's test accuracy (recall) in %."""
    plt = _pyplot()
    names = list(per_class)
    values = [per_class[n]["recall"] * 100 for n in names]
    fig, ax = plt.subplots(figsize=(8, 4))
    bars = ax.bar(names, values, color="#4c72b0")
    ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_ylabel("test accuracy (%)")
    ax.set_xlabel("class")
    ax.set_title(title)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- metrics + summary

def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def per_class_table(per_class: dict) -> str:
    """Markdown table of per-class precision, recall, F1 and support."""
    lines = ["| class | precision | recall (accuracy) | F1 | support |", "|---|---:|---:|---:|---:|"]
    for name, row in per_class.items():
        lines.append(f"| {name} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1']:.4f} | "
                     f"{row['support']} |")
    return "\n".join(lines)


def markdown_table(rows: list[dict], columns: list[str], formats: dict[str, str] | None = None) -> str:
    """Rows of dicts as a markdown table; ``formats`` maps a column to a format spec for numbers."""
    formats = formats or {}
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column, "")
            cells.append(format(value, formats[column]) if column in formats and isinstance(value, (int, float))
                         else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def csv_text(rows: list[dict], columns: list[str]) -> str:
    """Rows of dicts as CSV text (values are plain numbers and names: no quoting needed)."""
    lines = [",".join(columns)]
    lines += [",".join(str(row.get(c, "")) for c in columns) for row in rows]
    return "\n".join(lines) + "\n"


def render_summary(metrics: dict, figures: list[str]) -> str:
    """summary.md: status, headline test figures, baseline, per-class table, figures, config."""
    lines = [f"# {metrics.get('title', metrics['part'])}", ""]
    status = metrics.get("status", STATUS_COMPLETE)
    if status != STATUS_COMPLETE:
        lines += [f"**Status: {status}.** {metrics.get('status_note', '')}", ""]
    test = metrics.get("test", {})
    headline = {k: v for k, v in test.items() if not isinstance(v, (dict, list))}
    if headline:
        lines += ["## Test set (evaluated once, after all choices were made on validation)", "",
                  "| metric | value |", "|---|---:|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in headline.items()]
        lines.append("")
    if "baseline" in metrics:
        lines += ["## Baseline", ""] + [f"- {k}: {_fmt(v)}" for k, v in metrics["baseline"].items()] + [""]
    for key, section in metrics.get("extra_tables", {}).items():
        lines += [f"## {key}", "", section, ""]
    if "per_class" in test:
        lines += ["## Per class (test)", "", per_class_table(test["per_class"]), ""]
    if figures:
        lines += ["## Figures", ""] + [f"![{Path(f).stem}]({f})" for f in figures] + [""]
    timing = metrics.get("timing", {})
    if timing:
        lines += ["## Timing", ""] + [f"- {k}: {_fmt(v)}" for k, v in timing.items()] + [""]
    lines += ["## Config", "", "```json", json.dumps(to_jsonable(metrics.get("config", {})), indent=2),
              "```", "", f"Seed {metrics.get('seed')}, commit {metrics.get('git_commit')}, data "
              f"{metrics.get('data_source')}, written {metrics.get('created')}.", ""]
    return "\n".join(lines)


def write_run_report(out_dir: Path, metrics: dict, figures: dict | None = None) -> Path:
    """Write figures ({filename: matplotlib figure}), metrics.json and summary.md to ``out_dir``."""
    out_dir = Path(out_dir)
    names = []
    for name, fig in (figures or {}).items():
        save_figure(fig, out_dir / name)
        names.append(name)
    metrics = {"created": now_iso(), **metrics}
    atomic_write_json(out_dir / "metrics.json", metrics)
    atomic_write_text(out_dir / "summary.md", render_summary(metrics, names))
    return out_dir / "metrics.json"
