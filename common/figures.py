"""Every figure the suite draws. Each function takes saved numbers (a history, a confusion
matrix, predictions, weights) and returns a matplotlib figure; ``save_figure`` writes it.

One colour means one thing throughout: train blue, validation orange, test green.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from common.files import atomic_write_bytes

SPLIT_STYLE = {"train": ("#1f77b4", "-", "train"), "val": ("#ff7f0e", "--", "validation"),
               "test": ("#2ca02c", ":", "test (watched only: nothing chosen from it)")}


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path: Path, dpi: int = 120) -> None:
    """Render a matplotlib figure to PNG atomically, then close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def _integer_epochs(ax) -> None:
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_confusion_matrix(cm: np.ndarray, class_names: tuple[str, ...], title: str):
    """Heatmap of counts with row-normalized percentages; rows true, columns predicted."""
    plt = pyplot()
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
    """Loss (left) and accuracy (right) per epoch for every split the history holds."""
    plt = pyplot()
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, label in ((ax_loss, "loss", "cross-entropy loss"), (ax_acc, "acc", "accuracy (%)")):
        scale = 100 if key == "acc" else 1
        for split, (colour, style, name) in SPLIT_STYLE.items():
            if f"{split}_{key}" not in history[0]:
                continue
            values = [np.nan if h.get(f"{split}_{key}") is None else h[f"{split}_{key}"] * scale for h in history]
            ax.plot(epochs, values, style, color=colour, marker="o" if len(epochs) < 30 else None, markersize=3,
                    label=name)
        if best_epoch is not None and "val_loss" in history[0]:
            ax.axvline(best_epoch, color="grey", linestyle=":", label=f"epoch kept ({best_epoch})")
        ax.set_xlabel("epoch")
        _integer_epochs(ax)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    ax_loss.set_title("loss")
    ax_acc.set_title("accuracy")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_overlaid_curves(curves: dict[str, list[dict]], title: str, split: str = "val"):
    """``split`` loss (left) and accuracy (right) per epoch, one line per labelled history."""
    plt = pyplot()
    name = "validation" if split == "val" else split
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(13, 4.5))
    for label, history in curves.items():
        epochs = [h["epoch"] for h in history]
        ax_loss.plot(epochs, [h[f"{split}_loss"] for h in history], label=label)
        ax_acc.plot(epochs, [h[f"{split}_acc"] * 100 for h in history], label=label)
    for ax, ylabel in ((ax_loss, f"{name} cross-entropy loss"), (ax_acc, f"{name} accuracy (%)")):
        ax.set_xlabel("epoch")
        _integer_epochs(ax)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    ax_loss.set_title(f"{name} loss")
    ax_acc.set_title(f"{name} accuracy")
    handles, labels = ax_acc.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=1, fontsize=9,
               bbox_to_anchor=(0.5, -0.02 - 0.045 * len(labels)))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_per_class_accuracy(per_class: dict, title: str):
    """Bar chart of each class's test accuracy (recall) in %."""
    plt = pyplot()
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
