"""Every figure the suite draws. Each function takes saved numbers (a history, a confusion
matrix, predictions, weights) and returns a matplotlib figure; ``save_figure`` writes it.

One colour means one thing throughout: train blue, validation orange, test green.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from common.files import atomic_write_bytes, load_run_arrays

SPLIT_STYLE = {"train": ("#1f77b4", "-", "train"), "val": ("#ff7f0e", "--", "validation"),
               "test": ("#2ca02c", ":", "test (for the curve only: nothing chosen on it)")}


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def figure_png(fig, dpi: int = 120, run_id: str | None = None) -> bytes:
    """A matplotlib figure rendered to PNG bytes, then closed; ``run_id`` goes into a PNG text chunk."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"run_id": run_id} if run_id else None)
    pyplot().close(fig)
    return buffer.getvalue()


def save_figure(fig, path: Path, dpi: int = 120, run_id: str | None = None) -> None:
    """Render a matplotlib figure to PNG atomically (``figure_png``), then close it."""
    atomic_write_bytes(path, figure_png(fig, dpi, run_id))


def _integer_epochs(ax) -> None:
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _class_axes(ax, title: str) -> None:
    """A class-by-class heatmap's axes: true classes down, predicted across, names readable."""
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    for label in ax.get_xticklabels():
        label.set_rotation(45)
        label.set_horizontalalignment("right")
    for label in ax.get_yticklabels():
        label.set_rotation(0)


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
    _class_axes(ax, title)
    return fig


def plot_confusion_difference(rerun: np.ndarray, reported: np.ndarray, class_names: tuple[str, ...], title: str):
    """The rerun's test confusion matrix minus the report's, cell by cell (images; rows true, columns predicted):
    red where the rerun has more images than the report printed, blue where fewer; the row totals of |difference|
    (how many images moved in each true class) on the right."""
    plt = pyplot()
    import seaborn as sns

    difference = np.asarray(rerun) - np.asarray(reported)
    k = len(class_names)
    size = max(4.5, 0.85 * k + 2)
    fig, ax = plt.subplots(figsize=(size + 2.2, size))
    limit = max(1, int(np.abs(difference).max()))
    sns.heatmap(difference, annot=True, fmt="+d", cmap="RdBu_r", vmin=-limit, vmax=limit, center=0, ax=ax,
                xticklabels=class_names, yticklabels=class_names, square=True, annot_kws={"fontsize": 8},
                cbar_kws={"label": "rerun minus report (images)"})
    for i, moved in enumerate(np.abs(difference).sum(axis=1)):
        ax.text(k + 0.15, i + 0.5, f"{moved}", va="center", fontsize=8)
    ax.text(k + 0.15, -0.3, "|diff|", fontsize=8)
    _class_axes(ax, title)
    return fig


def _measured(history: list[dict], key: str, scale: float = 1.0) -> tuple[list[int], list[float]]:
    """(epochs, values) of the epochs whose record holds ``key``: a long run measures its test curve after some
    epochs only (``common.nn.training.measures_test``), and a line drawn through the gaps keeps its shape."""
    points = [(h["epoch"], h[key] * scale) for h in history if h.get(key) is not None]
    return [e for e, _ in points], [v for _, v in points]


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
            measured, values = _measured(history, f"{split}_{key}", scale)
            ax.plot(measured, values, style, color=colour, marker="o" if len(epochs) < 30 else None, markersize=3,
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
        ax_loss.plot(*_measured(history, f"{split}_loss"), label=label)
        ax_acc.plot(*_measured(history, f"{split}_acc", 100), label=label)
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


# ----------------------------------------------------------------------------- binary parts

def plot_roc_pr(y_positive: np.ndarray, scores: np.ndarray, operating_points: dict[str, float], title: str,
                positive: str = "airplane"):
    """Test ROC (left) and precision-recall (right) curves of ``scores`` for the ``positive`` class,
    with AUC and average precision in the legends, the chance line, the prevalence line, and a marked
    point for each named threshold in ``operating_points``."""
    from common import metrics

    plt = pyplot()
    fig, (ax_roc, ax_pr) = plt.subplots(1, 2, figsize=(12, 5))
    fpr, tpr, _ = metrics.roc_curve(y_positive, scores)
    precision, recall, _ = metrics.precision_recall_curve(y_positive, scores)
    auc, ap = metrics.roc_auc(y_positive, scores), metrics.average_precision(y_positive, scores)
    prevalence = float(np.mean(y_positive))
    ax_roc.plot(fpr, tpr, color="#1f77b4", label=f"this model (AUC {auc:.3f})")
    ax_roc.plot([0, 1], [0, 1], ":", color="grey", label="chance (AUC 0.5)")
    ax_pr.plot(recall, precision, color="#1f77b4", label=f"this model (average precision {ap:.3f})")
    ax_pr.axhline(prevalence, linestyle=":", color="grey", label=f"chance: the {prevalence:.0%} prevalence")
    markers = ("o", "s", "^", "D")
    for (name, threshold), marker in zip(operating_points.items(), markers):
        predicted = scores >= threshold
        tp = np.sum(predicted & (y_positive == 1))
        point_fpr = np.sum(predicted & (y_positive == 0)) / max(np.sum(y_positive == 0), 1)
        point_tpr = tp / max(np.sum(y_positive == 1), 1)
        point_precision = tp / max(np.sum(predicted), 1)
        label = f"{name} ({threshold:.3f})"
        ax_roc.plot(point_fpr, point_tpr, marker, color="#d62728", markersize=8, label=label)
        ax_pr.plot(point_tpr, point_precision, marker, color="#d62728", markersize=8, label=label)
    ax_roc.set(xlabel="false positive rate (share of the rest called airplane)",
               ylabel=f"true positive rate (recall of {positive})", title="ROC curve", xlim=(0, 1), ylim=(0, 1.01))
    ax_pr.set(xlabel=f"recall of {positive}", ylabel=f"precision of {positive}", title="precision-recall curve",
              xlim=(0, 1), ylim=(0, 1.01))
    for ax in (ax_roc, ax_pr):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9, loc="lower right" if ax is ax_roc else "upper right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- weights as images

def weights_as_rgb(w: np.ndarray) -> np.ndarray:
    """(3072,) or (..., 3072) weights in the HWC pixel order -> (..., 32, 32, 3) in [0, 1], 0.5 at zero,
    each image scaled by its own largest |weight|."""
    w = np.asarray(w, dtype=np.float64)
    images = w.reshape(*w.shape[:-1], 32, 32, 3)
    scale = np.abs(images).max(axis=(-3, -2, -1), keepdims=True)
    return 0.5 + 0.5 * images / np.where(scale > 0, scale, 1)


def plot_neuron_weights(w: np.ndarray, title: str, toward: str = "airplane"):
    """A single neuron's 3072 weights (pointing toward ``toward``): as a colour image, then each
    channel on a diverging scale centred at zero."""
    plt = pyplot()
    image = np.asarray(w).reshape(32, 32, 3)
    limit = float(np.abs(image).max()) or 1.0
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.8))
    axes[0].imshow(weights_as_rgb(w), interpolation="nearest")
    axes[0].set_title("as an RGB image\n(grey = 0)")
    for ax, channel, name in zip(axes[1:], range(3), ("red", "green", "blue")):
        shown = ax.imshow(image[:, :, channel], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(f"{name} channel")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(shown, ax=axes[1:].tolist(), shrink=0.85, label=f"weight (red: toward {toward}, blue: against)")
    fig.suptitle(title)
    return fig


def plot_hidden_units(w1: np.ndarray, w2: np.ndarray, class_names: tuple[str, ...], title: str):
    """Part 3's network: the input weights of each hidden unit (W1's columns) as 32x32 images, and each
    class's effective input template W1 @ W2[:, class] (what raises the class's logit most, to first order)."""
    plt = pyplot()
    units = w1.shape[1]
    cols = 16
    rows = int(np.ceil(units / cols))
    fig = plt.figure(figsize=(16, 1.05 * rows + 2.6))
    grid = fig.add_gridspec(rows + 2, cols, height_ratios=[1] * rows + [0.25, 1.6])
    unit_images = weights_as_rgb(w1.T)
    for u in range(units):
        ax = fig.add_subplot(grid[u // cols, u % cols])
        ax.imshow(unit_images[u], interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(f"unit {u}", fontsize=7)
    templates = weights_as_rgb((w1 @ w2).T)
    template_grid = grid[rows + 1, :].subgridspec(1, len(class_names))
    for c, name in enumerate(class_names):
        ax = fig.add_subplot(template_grid[0, c])
        ax.imshow(templates[c], interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(name, fontsize=10)
    fig.suptitle(f"{title}\ntop: each hidden unit's input weights; bottom: each class's template W1 @ W2[:, class] "
                 f"(grey = 0)", fontsize=11)
    return fig


# ----------------------------------------------------------------------------- test images

def _show_images(images: np.ndarray, captions: list[str], colours: list[str], title: str, cols: int):
    plt = pyplot()
    rows = int(np.ceil(len(images) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.0 * cols, 2.6 * rows))
    for ax in np.ravel(axes):
        ax.set_axis_off()
    for ax, image, caption, colour in zip(np.ravel(axes), images, captions, colours):
        ax.imshow(image, interpolation="nearest")
        ax.set_title(caption, fontsize=10, color=colour)
        for spine in ax.spines.values():
            spine.set_visible(True)
            spine.set_edgecolor(colour)
            spine.set_linewidth(3)
        ax.set_axis_on()
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    fig.tight_layout()
    return fig


RIGHT, WRONG = "#1a7f37", "#c62828"


def plot_mistakes(images: np.ndarray, y_true: np.ndarray, probabilities: np.ndarray, class_names: tuple[str, ...],
                  title: str, n: int = 24):
    """The ``n`` wrong test predictions made with the highest probability: image, true and predicted
    class, and the probability given to the wrong class."""
    predicted = probabilities.argmax(1)
    confidence = probabilities.max(1)
    wrong = np.flatnonzero(predicted != y_true)
    picked = wrong[np.argsort(-confidence[wrong], kind="stable")[:n]]
    captions = [f"true {class_names[y_true[i]]}\npredicted {class_names[predicted[i]]} {confidence[i]:.0%}"
                for i in picked]
    return _show_images(images[picked], captions, [WRONG] * len(picked),
                        f"{title}: the {len(picked)} most confident mistakes (of {len(wrong):,} wrong)", cols=6)


def prediction_figures(images: np.ndarray, predictions: Path, title: str,
                       run_id: str | None = None) -> tuple[dict, dict[str, str]]:
    """mistakes.png and predictions.png from a run's saved predictions.npz (y_true, y_pred, probabilities,
    class_names), or why not: ({file: figure}, {file: why it was not drawn}). With ``run_id`` the file
    must be that run's (``files.load_run_arrays``)."""
    saved = load_run_arrays(predictions, run_id)
    y_true, y_pred, probabilities = saved["y_true"], saved["y_pred"], saved["probabilities"]
    class_names = tuple(str(c) for c in saved["class_names"])
    if not np.all(np.isfinite(probabilities)):
        why = "the model's test probabilities are not finite"
        return {}, {"mistakes.png": why, "predictions.png": why}
    figures, skipped = {"predictions.png": plot_predictions(images, y_true, y_pred, class_names, title)}, {}
    if np.any(probabilities.argmax(1) != y_true):
        figures["mistakes.png"] = plot_mistakes(images, y_true, probabilities, class_names, title)
    else:
        skipped["mistakes.png"] = "no test image was misclassified"
    return figures, skipped


def plot_predictions(images: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, class_names: tuple[str, ...],
                     title: str, n: int = 30, seed: int = 0):
    """``n`` random test images with their true and predicted labels, right ones green, wrong ones red."""
    picked = np.sort(np.random.default_rng(seed).choice(len(images), size=min(n, len(images)), replace=False))
    captions = [f"{class_names[y_pred[i]]}" if y_pred[i] == y_true[i] else
                f"{class_names[y_pred[i]]}\n(true {class_names[y_true[i]]})" for i in picked]
    colours = [RIGHT if y_pred[i] == y_true[i] else WRONG for i in picked]
    right = int(np.sum(y_pred[picked] == y_true[picked]))
    return _show_images(images[picked], captions, colours,
                        f"{title}: {len(picked)} random test images, {right} right (green) and "
                        f"{len(picked) - right} wrong (red: the true class in brackets)", cols=6)


# ----------------------------------------------------------------------------- Part 4

def plot_grid_heatmap(rows: list[dict], title: str, activations: tuple[str, ...], optimizers: tuple[str, ...],
                      inits: tuple[str, ...]):
    """Validation accuracy of every run: activation x optimizer, one panel per initialization, one
    colour scale for all panels, each cell annotated (diverged runs marked)."""
    plt = pyplot()
    import seaborn as sns

    values = np.full((len(inits), len(activations), len(optimizers)), np.nan)
    notes = np.full(values.shape, "", dtype=object)
    for row in rows:
        k, a, o = inits.index(row["init"]), activations.index(row["activation"]), optimizers.index(row["optimizer"])
        if row["val_acc"] is not None and np.isfinite(row["val_acc"]):
            values[k, a, o] = row["val_acc"] * 100
            notes[k, a, o] = f"{row['val_acc'] * 100:.1f}\nlr {row['lr']:g}"
        else:
            notes[k, a, o] = f"{row['status']}\nlr {row['lr']:g}"
    low, high = np.nanmin(values), np.nanmax(values)
    fig, axes = plt.subplots(1, len(inits), figsize=(4.6 * len(inits) + 1.2, 3.9), sharey=True)
    axes = np.atleast_1d(axes)
    for k, (ax, init) in enumerate(zip(axes, inits)):
        sns.heatmap(values[k], annot=notes[k], fmt="", cmap="viridis", vmin=low, vmax=high, ax=ax,
                    cbar=k == len(inits) - 1, xticklabels=optimizers, yticklabels=activations,
                    annot_kws={"fontsize": 9}, cbar_kws={"label": "validation accuracy (%)"}, linewidths=0.5,
                    linecolor="white")
        ax.set_title(f"initialization: {init}")
        ax.set_xlabel("optimizer")
        ax.set_ylabel("activation" if k == 0 else "")
        ax.tick_params(axis="y", rotation=0)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_lr_sweep(rows: list[dict], title: str):
    """One panel per optimizer: validation accuracy after the trial epochs for each learning rate
    tried (log scale), one line per activation; the chosen rate ringed, diverged trials marked x."""
    plt = pyplot()
    optimizers = list(dict.fromkeys(r["optimizer"] for r in rows))
    activations = list(dict.fromkeys(r["activation"] for r in rows))
    colours = dict(zip(activations, ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")))
    fig, axes = plt.subplots(1, len(optimizers), figsize=(4.8 * len(optimizers), 4.2), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, optimizer in zip(axes, optimizers):
        for activation in activations:
            trial = [r for r in rows if r["optimizer"] == optimizer and r["activation"] == activation]
            lrs = [r["lr"] for r in trial]
            accs = [np.nan if r["val_acc"] is None or not np.isfinite(r["val_acc"]) else r["val_acc"] * 100
                    for r in trial]
            ax.plot(lrs, accs, "o-", color=colours[activation], label=activation)
            for r, acc in zip(trial, accs):
                if r.get("chosen"):
                    ax.plot(r["lr"], acc, "o", markersize=15, markerfacecolor="none", markeredgewidth=2,
                            color=colours[activation])
                if np.isnan(acc):
                    ax.plot(r["lr"], ax.get_ylim()[0] if ax.lines else 0, "x", color=colours[activation],
                            markersize=10)
        ax.set_xscale("log")
        ax.set_title(optimizer)
        ax.set_xlabel("learning rate (log scale)")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("validation accuracy after the trial (%)")
    axes[-1].legend(title="activation (ring: chosen)", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_toy_boundaries(results: list[dict], title: str):
    """Decision regions on 2-D toy sets: one row per data set, one column per activation; the colour is
    the network's P(class 1), the dashed line its 0.5 boundary, the title its accuracy on fresh points."""
    plt = pyplot()
    datasets = list(dict.fromkeys(r["dataset"] for r in results))
    activations = list(dict.fromkeys(r["activation"] for r in results))
    fig, axes = plt.subplots(len(datasets), len(activations), figsize=(3.3 * len(activations), 3.1 * len(datasets)),
                             squeeze=False)
    for r in results:
        ax = axes[datasets.index(r["dataset"]), activations.index(r["activation"])]
        shown = ax.contourf(r["grid_x"], r["grid_y"], r["probability"], levels=np.linspace(0, 1, 11), cmap="RdBu_r",
                            alpha=0.75)
        ax.contour(r["grid_x"], r["grid_y"], r["probability"], levels=[0.5], colors="k", linestyles="--",
                   linewidths=1)
        ax.scatter(r["x"][:, 0], r["x"][:, 1], c=r["y"], cmap="RdBu_r", vmin=-0.3, vmax=1.3, s=7, edgecolors="k",
                   linewidths=0.2)
        label = "identity (linear control)" if r["activation"] == "identity" else r["activation"]
        ax.set_title(f"{r['dataset']}, {label}\naccuracy {r['accuracy']:.0%} on fresh points", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(shown, ax=axes.ravel().tolist(), shrink=0.6, label="P(class 1)")
    fig.suptitle(title)
    return fig


# ----------------------------------------------------------------------------- Part 5

def plot_filters(filters: np.ndarray, title: str, cols: int = 16):
    """First-layer kernels (N, k, k, 3) in [0, 1] (grey = zero weight) as a grid of small RGB images."""
    plt = pyplot()
    rows = int(np.ceil(len(filters) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(0.85 * cols, 0.85 * rows + 0.7))
    for ax in np.ravel(axes):
        ax.set_axis_off()
    for i, (ax, f) in enumerate(zip(np.ravel(axes), filters)):
        ax.imshow(f, interpolation="nearest")
        ax.set_title(str(i), fontsize=6, pad=1)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_saliency(images: np.ndarray, maps: np.ndarray, labels: np.ndarray, probabilities: np.ndarray,
                  class_names: tuple[str, ...], title: str):
    """Each test image (top) above its saliency map (bottom, each map scaled to its own maximum)."""
    plt = pyplot()
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(1.55 * n, 3.6))
    for i in range(n):
        axes[0, i].imshow(images[i], interpolation="nearest")
        axes[0, i].set_title(f"{class_names[labels[i]]}\nP = {probabilities[i]:.0%}", fontsize=8.5)
        axes[1, i].imshow(maps[i] / max(maps[i].max(), 1e-12), cmap="hot", vmin=0, vmax=1, interpolation="nearest")
        for ax in axes[:, i]:
            ax.set_axis_off()
    axes[1, 0].text(-4, 16, "saliency", rotation=90, va="center", ha="right", fontsize=9)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_class_images(pictures: np.ndarray, class_names: tuple[str, ...], start: np.ndarray, end: np.ndarray,
                      title: str):
    """One generated image per class, with its class score before and after the ascent."""
    plt = pyplot()
    n = len(pictures)
    fig, axes = plt.subplots(1, n, figsize=(1.7 * n, 2.3))
    for ax, picture, name, s0, s1 in zip(np.atleast_1d(axes), pictures, class_names, start, end):
        ax.imshow(picture, interpolation="bicubic")
        ax.set_title(f"{name}\nscore {s0:.1f} -> {s1:.1f}", fontsize=8.5)
        ax.set_axis_off()
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_scenario_curves(curves: dict[str, list[dict]], title: str):
    """Training loss (left) and watched test accuracy (right) per epoch, one line per scenario."""
    plt = pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(13, 4.5))
    for label, history in curves.items():
        ax_loss.plot(*_measured(history, "train_loss"), label=label)
        if history and "test_acc" in history[0]:
            ax_acc.plot(*_measured(history, "test_acc", 100), label=label)
    for ax, ylabel in ((ax_loss, "training cross-entropy loss"), (ax_acc, "test accuracy (%)")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if len(curves) and max(len(h) for h in curves.values()) > 50:
            ax.set_xscale("log")
    ax_loss.set_title("training loss")
    ax_acc.set_title("test accuracy")
    ax_acc.legend(fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


ACTIVATION_COLOURS = {"sigmoid": "tab:blue", "relu": "tab:red", "tanh": "tab:green", "identity": "tab:grey"}
INIT_LINES = {"small": "-", "he": "--", "xavier": ":", "lecun": "-."}


def plot_unit_activity(runs: list[tuple[dict, list[dict]]], title: str, rises: dict[str, float]):
    """Dead hidden units (left) and saturated activations (right, sigmoid and tanh) per epoch, one line per
    run: ``runs`` is [(its row: activation, optimizer, init, ..., its history)]; colour is the activation,
    the line style the initialization; ``rises`` {run name: share of epochs whose training loss rose} goes
    into the legend."""
    plt = pyplot()
    fig, (ax_dead, ax_sat) = plt.subplots(1, 2, figsize=(13, 4.8))
    longest = 0
    for row, history in runs:
        name = f"{row['activation']} + {row['optimizer']} + {row['init']}"
        style = {"color": ACTIVATION_COLOURS.get(row["activation"], "black"),
                 "linestyle": INIT_LINES.get(row["init"], "-")}
        label = name + (f" (loss rose > 1 % in {rises[name]:.0%} of epochs)" if rises.get(name) is not None else "")
        epochs = [h["epoch"] for h in history]
        longest = max(longest, len(epochs))
        ax_dead.plot(epochs, [100 * h.get("dead_units", np.nan) for h in history], label=label, **style)
        if any("saturated_units" in h for h in history):
            ax_sat.plot(epochs, [100 * h.get("saturated_units", np.nan) for h in history], **style)
    ax_dead.set_ylabel("dead hidden units (%)")
    ax_dead.set_title("dead units: no gradient for any of the probe images")
    ax_sat.set_ylabel("saturated activations (%), sigmoid and tanh")
    ax_sat.set_title("saturated: slope under 10 % of the largest")
    for ax in (ax_dead, ax_sat):
        ax.set_xlabel("epoch")
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
        if longest > 50:
            ax.set_xscale("log")
        else:
            _integer_epochs(ax)
    handles, labels = ax_dead.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=9,
               bbox_to_anchor=(0.5, -0.02 - 0.045 * ((len(labels) + 1) // 2)))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- figures a part declares
# A part's CATALOG entry {"file": ..., "caption": ..., "draw": "<name>"} is drawn by draw_<name>(run), where
# ``run`` is the saved run (common/report/drawing.py's SavedRun: .record, .folder, .test_images, .arrays(file)).
# A new figure of this kind is this function and that line: nothing else changes.

def draw_per_class_scores(run):
    """Precision, recall and F1 of every class on the test set, side by side: which classes the model
    finds (recall) and how often its calls of them are right (precision)."""
    plt = pyplot()
    per_class = run.record["test"]["per_class"]
    names = list(per_class)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(10, 4.2))
    for i, (key, colour) in enumerate((("precision", "#4c72b0"), ("recall", "#dd8452"), ("f1", "#55a868"))):
        ax.bar(x + (i - 1) * 0.27, [per_class[n][key] * 100 for n in names], width=0.27, label=key, color=colour)
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylim(0, 100)
    ax.set_ylabel("test score (%)")
    ax.set_xlabel("class")
    ax.set_title(f"{run.record['title']}: precision, recall and F1 per class (test set)")
    ax.legend(ncols=3, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig
