"""Builders for small CIFAR-10-shaped data sets in every accepted format."""
from __future__ import annotations

import io
import json
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from common.data.cifar10 import CLASS_NAMES
from common.experiments import record as R

# The tiny settings every end-to-end test trains with (on ``learnable_folder``'s 600 training images):
# a few epochs, a small validation split, no progress bars. One place, so that every test trains alike.
TINY = ["--val-size", "60", "--epochs", "2", "--batch-size", "32", "--no-progress"]  # Parts 1-4
TINY_CNN = ["--val-size", "50", "--batch-size", "64", "--no-progress", "--recipe", "quick"]  # Part 5


def synthetic_arrays(train_per_class: int = 3, test_per_class: int = 2, seed: int = 0):
    """Learnable toy images: each class has its own mean colour, plus noise. uint8 (N,32,32,3)."""
    rng = np.random.default_rng(seed)
    colours = rng.integers(30, 225, size=(10, 3))

    def make(per_class):
        labels = np.repeat(np.arange(10), per_class)
        noise = rng.normal(0, 25, size=(len(labels), 32, 32, 3))
        images = np.clip(colours[labels][:, None, None, :] + noise, 0, 255).astype(np.uint8)
        return images, labels.astype(np.int64)

    return (*make(train_per_class), *make(test_per_class))


def batch_bytes(images: np.ndarray, labels: np.ndarray, protocol: int = 4) -> bytes:
    """One batch in the official layout: dict of bytes keys, data (N, 3072) channel-first."""
    data = np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), -1))
    return pickle.dumps({b"batch_label": b"synthetic", b"labels": [int(v) for v in labels], b"data": data,
                         b"filenames": [f"{i}.png".encode() for i in range(len(labels))]}, protocol=protocol)


def meta_bytes(names=CLASS_NAMES) -> bytes:
    return pickle.dumps({b"label_names": [n.encode() for n in names], b"num_vis": 3072}, protocol=4)


def batch_files(arrays) -> dict[str, bytes]:
    x_train, y_train, x_test, y_test = arrays
    files = {f"data_batch_{i + 1}": batch_bytes(x, y)
             for i, (x, y) in enumerate(zip(np.array_split(x_train, 5), np.array_split(y_train, 5)))}
    files["test_batch"] = batch_bytes(x_test, y_test)
    files["batches.meta"] = meta_bytes()
    return files


def write_batches_folder(parent: Path, arrays, files: dict[str, bytes] | None = None) -> Path:
    folder = parent / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in (files or batch_files(arrays)).items():
        (folder / name).write_bytes(data)
    return folder


def write_tar(path: Path, files: dict[str, bytes], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def write_official_tarball(path: Path, arrays) -> Path:
    return write_tar(path, {f"cifar-10-batches-py/{k}": v for k, v in batch_files(arrays).items()})


def image_bytes(image: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt)
    return buffer.getvalue()


def image_tree_files(arrays, fmt: str = "PNG", top: str = "cifar10") -> dict[str, bytes]:
    """{'top/train/<class>/<i>.png': bytes, ...} for the image-folder layout."""
    x_train, y_train, x_test, y_test = arrays
    files = {}
    for split, xs, ys in (("train", x_train, y_train), ("test", x_test, y_test)):
        for i, (x, y) in enumerate(zip(xs, ys)):
            files[f"{top}/{split}/{CLASS_NAMES[y]}/{i:04d}.{fmt.lower()}"] = image_bytes(x, fmt)
    return files


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def sorted_by_label(x: np.ndarray, y: np.ndarray):
    """Images and labels in (label, original order) order, as the image-folder reader returns them."""
    order = np.argsort(y, kind="stable")
    return x[order], y[order]


def report_recipe(report_id: str, part: str):
    """The recipe config a report file gives ``part`` (built over the part's REPORT_BASE, as --report does)."""
    from common.report.report_file import load_report
    from scripts.run_all import check_report
    return check_report(load_report(report_id))[part]


HISTORY = [{"epoch": 1, "train_loss": 0.5, "train_acc": 0.8, "val_loss": 0.6, "val_acc": 0.78}]


def write_record(path: Path, part: str, recipe: str = "tuned", **extra) -> dict:
    """A complete metrics.json as a part writes it (``extra`` replaces any of its sections)."""
    record = R.run_record(part=part, recipe=recipe, status="complete", status_note="", config={"lr": 0.1}, seed=0,
                          device="cpu", data_source="synthetic", data_fingerprint="abc", run_id="r",
                          recipe_config={"lr": 0.1})
    record.update({"parameters": 1000, "test": {"accuracy": 0.5, "macro_f1": 0.4}, "history": HISTORY,
                   "best_epoch": 1, "epochs_run": 1, "timing": {"train_seconds": 1.0, "total_seconds": 2.0},
                   "throughput": {"train_images_per_second": 500.0}, "figures": {"loss_curve.png": ""},
                   "figures_skipped": {},
                   "created": "2026-01-01T00:00:00", "git_commit": "a" * 40})
    record.update(extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return record


