"""`make eda`: the data before any model. Writes reports/eda/: class counts per split, ten sample
images per class, the mean image of each class, the per-channel pixel distributions, summary.md and
summary.json with the numbers.

The split is the parts' own (5,000 stratified validation images carved from the training set with
seed 0), so the counts are those the parts train, choose and test on.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from common.catalog import EDA_FIGURES
from common.cli import nonnegative_int, positive_int, run_main
from common.console import log
from common.data.cifar10 import load_cifar10, source_order_text
from common.data.preprocess import stratified_split
from common.experiments.record import environment_info, git_commit, now_iso
from common.files import ReportFolder, atomic_write_json, atomic_write_text
from common.paths import REPORTS_DIR
from common.render.figures import pyplot, save_figure
from common.render.tables import markdown_table

CHANNELS = (("red", "#d62728"), ("green", "#2ca02c"), ("blue", "#1f77b4"))


def split_counts(data, val_size: int, seed: int) -> list[dict]:
    """One row per class: its images in the training, validation and test splits the parts use."""
    train_idx, val_idx = stratified_split(data.y_train, val_size, seed)
    counts = {"train": np.bincount(data.y_train[train_idx], minlength=10),
              "validation": np.bincount(data.y_train[val_idx], minlength=10),
              "test": np.bincount(data.y_test, minlength=10)}
    return [{"class": name, **{split: int(c[i]) for split, c in counts.items()}}
            for i, name in enumerate(data.class_names)]


def channel_statistics(images: np.ndarray) -> list[dict]:
    """Per channel of uint8 images (N, 32, 32, 3): mean and std of the pixel values / 255."""
    pixels = images.reshape(-1, 3)
    rows = []
    for c, (name, _) in enumerate(CHANNELS):
        histogram = np.bincount(pixels[:, c], minlength=256).astype(np.float64)
        values = np.arange(256) / 255
        mean = float((histogram * values).sum() / histogram.sum())
        std = float(np.sqrt((histogram * (values - mean) ** 2).sum() / histogram.sum()))
        rows.append({"channel": name, "mean": mean, "std": std, "histogram": histogram})
    return rows


def plot_counts(rows: list[dict], title: str):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(11, 4))
    x = np.arange(len(rows))
    for k, (split, colour) in enumerate((("train", "#1f77b4"), ("validation", "#ff7f0e"), ("test", "#2ca02c"))):
        bars = ax.bar(x + (k - 1) * 0.27, [r[split] for r in rows], width=0.27, color=colour, label=split)
        ax.bar_label(bars, fontsize=7, rotation=90, padding=2)
    ax.set_xticks(x, [r["class"] for r in rows], rotation=30, ha="right")
    ax.set_ylabel("images")
    ax.set_ylim(0, max(r["train"] for r in rows) * 1.3)
    ax.legend(loc="upper center", ncol=3)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_samples(images: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...], per_class: int, seed: int):
    plt = pyplot()
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(len(class_names), per_class, figsize=(1.1 * per_class + 1, 1.1 * len(class_names)))
    for c, name in enumerate(class_names):
        picked = rng.choice(np.flatnonzero(labels == c), size=per_class, replace=False)
        for j, i in enumerate(picked):
            ax = axes[c, j]
            ax.imshow(images[i], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[c, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=10)
    fig.suptitle(f"{per_class} random images of each class (training split)")
    fig.tight_layout()
    return fig


def plot_class_means(images: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...]):
    plt = pyplot()
    fig, axes = plt.subplots(1, len(class_names) + 1, figsize=(1.25 * (len(class_names) + 1), 1.9))
    means = [images.mean(0)] + [images[labels == c].mean(0) for c in range(len(class_names))]
    for ax, mean, name in zip(axes, means, ("all classes", *class_names)):
        ax.imshow(mean.astype(np.uint8), interpolation="bicubic")
        ax.set_title(name, fontsize=9)
        ax.set_axis_off()
    fig.suptitle("The mean image of each class (training split)")
    fig.tight_layout()
    return fig


def plot_pixel_distributions(statistics: list[dict]):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    values = np.arange(256)
    for row, (_, colour) in zip(statistics, CHANNELS):
        share = row["histogram"] / row["histogram"].sum() * 100
        ax.plot(values, share, color=colour, label=f"{row['channel']}: mean {row['mean']:.3f}, std {row['std']:.3f} "
                                                   f"(of 1)")
    ax.set_xlabel("pixel value (0-255)")
    ax.set_ylabel("share of the training pixels (%)")
    ax.set_xlim(0, 255)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Pixel values per colour channel, training split")
    fig.tight_layout()
    return fig


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.eda", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", metavar="PATH", help=f"CIFAR-10 source; without it: {source_order_text()}")
    parser.add_argument("--out", default=str(REPORTS_DIR / "eda"), help="(default: %(default)s)")
    parser.add_argument("--val-size", type=nonnegative_int, default=5000, help="(default: %(default)s, as the parts)")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="(default: %(default)s, as the parts)")
    parser.add_argument("--per-class", type=positive_int, default=10, help="sample images per class")
    parser.add_argument("--debug", action="store_true")
    return parser


def main(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    with ReportFolder(Path(args.out)) as out:
        data = load_cifar10(args.data, progress=False)
        counts = split_counts(data, args.val_size, args.seed)
        train_idx, _ = stratified_split(data.y_train, args.val_size, args.seed)
        images, labels = data.x_train[train_idx], data.y_train[train_idx]  # the training split only
        statistics = channel_statistics(images)
        figures = {
            "class_counts.png": plot_counts(counts, f"Images per class and split ({args.val_size:,} validation images "
                                                    f"carved from the training set, seed {args.seed})"),
            "samples.png": plot_samples(images, labels, data.class_names, args.per_class, args.seed),
            "class_means.png": plot_class_means(images, labels, data.class_names),
            "pixel_distributions.png": plot_pixel_distributions(statistics),
        }
        for name, figure in figures.items():
            save_figure(figure, out / name)
        channel_rows = [{k: v for k, v in row.items() if k != "histogram"} for row in statistics]
        summary = {"data_source": data.source, "data_fingerprint": data.fingerprint, "image_shape": list(
            data.x_train.shape[1:]), "train_images": len(data.x_train), "test_images": len(data.x_test),
                   "split": {"val_size": args.val_size, "seed": args.seed}, "class_counts": counts,
                   "channels": channel_rows, "environment": environment_info(), "git_commit": git_commit(),
                   "created": now_iso()}
        atomic_write_json(out / "summary.json", summary)
        captions = dict(EDA_FIGURES)
        shape = "x".join(map(str, data.x_train.shape[1:]))
        lines = ["# CIFAR-10 at a glance", "", f"{len(data.x_train):,} training and {len(data.x_test):,} test images "
                 f"of {shape} uint8 pixels, ten classes; source {data.source}.", "",
                 "## Images per class and split", "",
                 markdown_table(counts, ["class", "train", "validation", "test"],
                                {"train": ",d", "validation": ",d", "test": ",d"}), "",
                 "## Pixel values per channel (training split, / 255)", "",
                 markdown_table(channel_rows, ["channel", "mean", "std"], {"mean": ".4f", "std": ".4f"}), "",
                 "## Figures", ""]
        for name in figures:
            lines += [f"![{name}]({name})", "", f"*{captions[name]}*", ""]
        atomic_write_text(out / "summary.md", "\n".join(lines))
    log.info("wrote %s in %.1f s", out, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser()))
