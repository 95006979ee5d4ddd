"""Part 5: convolutional networks in PyTorch -- SimpleCNN and ImprovedCNN -- and how they compare
with the numpy MLPs of Parts 3 and 4.

Profiles:
  assignment  the original recipe: Adam lr 1e-3, batch 128, 100 epochs, no augmentation
  best        our recipe for the highest accuracy in 30 epochs: random crop + flip + cutout,
              SGD with Nesterov momentum and a one-cycle schedule, label smoothing, weight
              decay; validation and test predictions average each image and its mirror
  quick       the best recipe cut to a few epochs, for a grader on a laptop CPU (<= 15 min)
  auto        best on a GPU, quick on a CPU (the default; it says which it picked)
Any profile value can be overridden by its flag. Validation (carved from the training images)
picks the checkpoint; the test set is evaluated once, with the best validation checkpoint.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from common import metrics as M
from common.cli import EXIT_INTERRUPTED, add_run_arguments, log, nonnegative_float, nonnegative_int, \
    positive_float, positive_int, run_main, timed, unit_interval
from common.cnn_models import DISPLAY_NAMES, count_parameters, summary_markdown
from common.data import CLASS_NAMES, load_cifar10
from common.report import (STATUS_COMPLETE, STATUS_INCOMPLETE, atomic_write_text, environment_info, ensure_writable,
                           git_commit, markdown_table, per_class_table, plot_confusion_matrix, plot_history,
                           plot_per_class_accuracy, write_run_report)
from common.tasks import stratified_split
from common.torch_training import CNNConfig, CNNResult, DeviceData, autocast_supported, evaluate, \
    load_checkpoint, model_from_checkpoint, pick_device, train_cnn

PART, TITLE = "part5", "Part 5: CNNs in PyTorch"
BEST = dict(epochs=30, batch_size=128, optimizer="sgd", lr=0.1, weight_decay=5e-4, schedule="onecycle",
            label_smoothing=0.1, augment=True, cutout=8, tta=True, patience=0)
PROFILES = {
    "assignment": dict(epochs=100, batch_size=128, optimizer="adam", lr=1e-3, weight_decay=0.0, schedule="none",
                       label_smoothing=0.0, augment=False, cutout=0, tta=False, patience=0),
    "best": BEST,
    "quick": {**BEST, "epochs": {"simple": 8, "improved": 6}},
}
PROFILE_NOTES = {
    "assignment": "the original assignment's recipe (Adam lr 1e-3, batch 128, 100 epochs, no augmentation)",
    "best": "our 30-epoch recipe (batch 128, crop + flip + cutout 8, SGD Nesterov, one-cycle, label smoothing 0.1, "
            "weight decay 5e-4, mirror test-time augmentation)",
    "quick": "the best recipe cut to 8 (SimpleCNN) and 6 (ImprovedCNN) epochs, for a CPU",
}
OVERRIDABLE = ("epochs", "batch_size", "optimizer", "lr", "weight_decay", "schedule", "label_smoothing", "augment",
               "cutout", "tta", "patience")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m parts.part5", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_argument_group("what to run")
    group.add_argument("--model", choices=["simple", "improved", "both"], default="both",
                       help="which network(s) to train (default: %(default)s)")
    group.add_argument("--profile", choices=["auto", *PROFILES], default="auto",
                       help="training recipe (default: auto = best on a GPU, quick on a CPU)")
    group.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: %(default)s)")
    group.add_argument("--resume", action="store_true",
                       help="continue from the model's checkpoint in --out after an interruption")
    group.add_argument("--eval", metavar="CKPT", default=None,
                       help="evaluate a saved checkpoint and redraw its figures, without training")
    group = parser.add_argument_group("overrides of the profile")
    group.add_argument("--epochs", type=positive_int)
    group.add_argument("--batch-size", type=positive_int)
    group.add_argument("--optimizer", choices=["adam", "sgd"])
    group.add_argument("--lr", type=positive_float, help="learning rate (the peak, with onecycle)")
    group.add_argument("--weight-decay", type=nonnegative_float)
    group.add_argument("--schedule", choices=["none", "cosine", "onecycle"])
    group.add_argument("--label-smoothing", type=unit_interval)
    group.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                       help="random crop (pad 4) + horizontal flip")
    group.add_argument("--cutout", type=nonnegative_int, metavar="PIXELS",
                       help="cutout: zero a PIXELS x PIXELS square of each training image; 0 = off")
    group.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                       help="evaluate (validation and test) on the mean of each image's and its mirror's logits")
    group.add_argument("--patience", type=nonnegative_int, help="early stopping on validation accuracy; 0 = off")
    group.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True,
                       help="bfloat16 mixed precision where the device supports it (default: on)")
    group.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True,
                       help="channels_last memory format (default: on)")
    add_run_arguments(parser, out=f"reports/{PART}")
    return parser


def resolve_profile(args: argparse.Namespace, device: torch.device) -> str:
    if args.profile != "auto":
        return args.profile
    return "best" if device.type == "cuda" else "quick"


def config_for(args: argparse.Namespace, model: str, profile: str) -> CNNConfig:
    values = {k: (v[model] if isinstance(v, dict) else v) for k, v in PROFILES[profile].items()}
    for key in OVERRIDABLE:
        if getattr(args, key, None) is not None:
            values[key] = getattr(args, key)
    return CNNConfig(model=model, train_subset=args.train_subset, val_size=args.val_size, seed=args.seed,
                     amp=args.amp, channels_last=args.channels_last, **values)


def checkpoint_path(out: Path, model: str) -> Path:
    return out / model / f"{model}_cnn.pt"


def main(args: argparse.Namespace) -> int:
    total_start = time.perf_counter()
    device = pick_device(args.device)
    if args.eval:
        return evaluate_checkpoint(args, Path(args.eval), device)
    profile = resolve_profile(args, device)
    out = ensure_writable(args.out)
    models = ["simple", "improved"] if args.model == "both" else [args.model]
    log.info("device %s%s; profile '%s': %s", device, f" ({torch.cuda.get_device_name()})" if device.type == "cuda"
             else "", profile, PROFILE_NOTES[profile])
    resumes = {m: _resume_state(args, out, m) for m in models}
    with timed("loading CIFAR-10"):
        data = load_cifar10(args.data, progress=not args.no_progress)
    train, val, test = device_splits(data, args, device)
    log.info("train %d, validation %d, test %d images on %s", len(train), len(val), len(test), device)
    summaries = {}
    for model_name in models:
        config = config_for(args, model_name, profile)
        log.info("%s: %s", DISPLAY_NAMES[model_name], json.dumps(config.as_dict()))
        model, result = train_cnn(config, train, val, device, checkpoint_path(out, model_name),
                                  resume=resumes[model_name], progress=not args.no_progress)
        summaries[model_name] = report_model(out / model_name, model, result, config, profile, val, test, device,
                                             data.source, checkpoint_path(out, model_name))
        if result.status == STATUS_INCOMPLETE:
            break
    write_part_summary(out, summaries, profile, device, data.source, time.perf_counter() - total_start)
    if any(s["status"] == STATUS_INCOMPLETE for s in summaries.values()):
        log.warning("interrupted: reports of the completed epochs are in %s, marked incomplete; "
                    "continue with --resume", out)
        return EXIT_INTERRUPTED
    return 1 if any(s["status"] == "diverged" for s in summaries.values()) else 0


def _resume_state(args, out: Path, model: str) -> dict | None:
    if not args.resume:
        return None
    path = checkpoint_path(out, model)
    if not path.exists():
        log.info("no checkpoint at %s: %s starts from scratch", path, model)
        return None
    state = load_checkpoint(path, expected_model=model)
    if state.get("complete"):
        log.info("%s already finished its %d epochs; training again from scratch", path, state["epoch"])
        return None
    return state


def device_splits(data, args, device: torch.device) -> tuple[DeviceData, DeviceData, DeviceData]:
    """The shared stratified validation split, images kept as uint8 on the device."""
    train_idx, val_idx = stratified_split(data.y_train, args.val_size, args.seed)
    if args.train_subset is not None:
        train_idx = np.sort(np.random.default_rng(args.seed).permutation(train_idx)[:args.train_subset])
    return (DeviceData(data.x_train[train_idx], data.y_train[train_idx], device),
            DeviceData(data.x_train[val_idx], data.y_train[val_idx], device),
            DeviceData(data.x_test, data.y_test, device))


def report_model(out: Path, model, result: CNNResult, config: CNNConfig, profile: str, val: DeviceData,
                 test: DeviceData, device: torch.device, source: str, checkpoint: Path) -> dict:
    """Evaluate the best-validation model on validation and, once, on the test set; write out/<model>/.

    The validation figure is measured again here, with this evaluation's settings (``--tta`` in
    eval mode may differ from training's), so that recipes can be compared on it.
    """
    name = DISPLAY_NAMES[config.model]
    autocast = config.amp and autocast_supported(device)
    val_loss, val_acc, _ = evaluate(model, val, config, autocast=autocast)
    with timed(f"{name}: evaluating on the test set"):
        test_loss, test_acc, predictions = evaluate(model, test, config, autocast=autocast)
    summary = M.classification_summary(test.labels.cpu().numpy(), predictions, CLASS_NAMES)
    metrics = {
        "part": PART, "title": f"{TITLE}: {name}", "model": name, "profile": profile,
        "status": result.status, "status_note": result.note, "classes": list(CLASS_NAMES),
        "parameters": count_parameters(model),
        "test": {"accuracy": test_acc, "balanced_accuracy": summary["balanced_accuracy"],
                 "macro_f1": summary["macro_f1"], "loss": test_loss, "per_class": summary["per_class"],
                 "confusion_matrix": summary["confusion_matrix"]},
        "best_epoch": result.best_epoch, "epochs_run": len(result.history),
        "validation": {"best_accuracy": result.best_val_acc, "accuracy": val_acc, "loss": val_loss,
                       "tta": config.tta},
        "history": result.history, "config": config.as_dict(), "seed": config.seed,
        "throughput": {"train_images_per_second": result.images_per_second},
        "timing": {"train_seconds": result.train_seconds, "total_seconds": result.train_seconds,
                   "seconds_per_epoch": result.train_seconds / max(1, len(result.history))},
        "environment": environment_info(str(device)), "git_commit": git_commit(), "data_source": source,
        "checkpoint": str(checkpoint),
        "extra_tables": {"Per-class test accuracy": per_class_table(summary["per_class"])},
    }
    write_model_report(out, model, metrics)
    log.info("%s: test accuracy %.4f (best validation %.4f at epoch %d), %.0f training images/s, %.0f s",
             name, test_acc, result.best_val_acc, result.best_epoch, result.images_per_second, result.train_seconds)
    return metrics


def write_model_report(out: Path, model, metrics: dict) -> None:
    name = metrics["model"]
    atomic_write_text(out / "model_summary.md", summary_markdown(model.cpu(), f"{name}: layers"))
    atomic_write_text(out / "per_class.md", f"# {name}: per-class test figures\n\n"
                      f"{per_class_table(metrics['test']['per_class'])}\n")
    write_run_report(out, metrics, {
        "confusion_matrix.png": plot_confusion_matrix(np.array(metrics["test"]["confusion_matrix"]), CLASS_NAMES,
                                                      f"{name}: test confusion matrix"),
        "loss_curve.png": plot_history(metrics["history"], f"{name}: loss and accuracy per epoch",
                                       metrics["best_epoch"]),
        "per_class_accuracy.png": plot_per_class_accuracy(metrics["test"]["per_class"],
                                                          f"{name}: test accuracy per class"),
    })


def evaluate_checkpoint(args: argparse.Namespace, path: Path, device: torch.device) -> int:
    """`make part5-eval`: test-evaluate a checkpoint's best weights and redraw its figures."""
    state = load_checkpoint(path)
    overrides = {"amp": args.amp, "channels_last": args.channels_last, **({} if args.tta is None else {"tta": args.tta})}
    config = CNNConfig(**{**state["config"], **overrides})
    model = model_from_checkpoint(state, device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    out = ensure_writable(path.parent if args.out == f"reports/{PART}" else Path(args.out))
    data = load_cifar10(args.data, progress=not args.no_progress)
    _, val_idx = stratified_split(data.y_train, config.val_size, config.seed)  # the split it was trained with
    val = DeviceData(data.x_train[val_idx], data.y_train[val_idx], device)
    test = DeviceData(data.x_test, data.y_test, device)
    result = CNNResult(history=list(state["history"]), best_epoch=state["best_epoch"],
                       best_val_acc=state["best_val_acc"],
                       status=STATUS_COMPLETE if state.get("complete") else STATUS_INCOMPLETE,
                       note="" if state.get("complete") else f"checkpoint after epoch {state['epoch']} of "
                                                               f"{config.epochs}",
                       train_seconds=sum(h["seconds"] for h in state["history"]))
    if result.history:
        result.images_per_second = float(np.mean([h["images_per_second"] for h in result.history]))
    report_model(out, model, result, config, "eval", val, test, device, data.source, path)
    return 0


def mlp_vs_cnn_rows(reports: Path, cnn_run: Path | None = None) -> list[dict]:
    """Rows of the comparison table, read from the saved metrics.json of each part and model:
    the MLPs from reports/part3 and reports/part4, the CNNs from ``cnn_run`` (default reports/part5),
    so a run saved elsewhere with --out compares its own CNNs."""
    cnn_run = cnn_run or reports / "part5"
    rows = []
    sources = [("Part 3 MLP (3072-64-10, sigmoid)", reports / "part3" / "metrics.json"),
               ("Part 4 best MLP", reports / "part4" / "metrics.json"),
               ("SimpleCNN", cnn_run / "simple" / "metrics.json"),
               ("ImprovedCNN", cnn_run / "improved" / "metrics.json")]
    for label, path in sources:
        if not path.is_file():
            rows.append({"model": label, "status": "not run", "source": str(path)})
            continue
        m = json.loads(path.read_text())
        train_seconds, epochs = m.get("timing", {}).get("train_seconds"), m.get("epochs_run")
        if label.startswith("Part 4"):  # the winning configuration's own run, not the whole grid's
            winner = m.get("winner", {})
            label = f"Part 4 best MLP ({winner.get('activation')} + {winner.get('optimizer')} + {winner.get('init')})"
            train_seconds, epochs = winner.get("seconds"), winner.get("epochs_run")
        rows.append({"model": label, "parameters": m.get("parameters"), "test_accuracy": m["test"]["accuracy"],
                     "train_seconds": train_seconds,
                     "images_per_second": m.get("throughput", {}).get("train_images_per_second"),
                     "device": m.get("environment", {}).get("device"), "profile": m.get("profile", "-"),
                     "epochs": epochs, "status": m.get("status"), "source": str(path)})
    return rows


COMPARISON_COLUMNS = ["model", "parameters", "test_accuracy", "epochs", "train_seconds", "images_per_second",
                      "device", "profile", "status"]
COMPARISON_FORMATS = {"parameters": ",d", "test_accuracy": ".4f", "train_seconds": ".0f", "images_per_second": ",.0f"}


def write_part_summary(out: Path, summaries: dict, profile: str, device: torch.device, source: str,
                       total_seconds: float) -> None:
    """reports/part5/metrics.json and summary.md: both models side by side plus MLP vs CNN."""
    rows = mlp_vs_cnn_rows(out.parent, out)
    table = markdown_table(rows, COMPARISON_COLUMNS, COMPARISON_FORMATS)
    atomic_write_text(out / "comparison.md", f"# MLP vs CNN (read from each run's metrics.json)\n\n{table}\n")
    headline = summaries.get("improved") or next(iter(summaries.values()))
    status = STATUS_INCOMPLETE if any(s["status"] == STATUS_INCOMPLETE for s in summaries.values()) else \
        headline["status"]
    metrics = {
        "part": PART, "title": TITLE, "status": status, "status_note": headline.get("status_note", ""),
        "profile": profile, "headline_model": headline["model"],
        "test": {k: v for k, v in headline["test"].items()},
        "models": {s["model"]: {"test_accuracy": s["test"]["accuracy"], "parameters": s["parameters"],
                                "best_epoch": s["best_epoch"], "epochs_run": s["epochs_run"],
                                "train_seconds": s["timing"]["train_seconds"],
                                "train_images_per_second": s["throughput"]["train_images_per_second"],
                                "status": s["status"], "report": f"{k}/summary.md"} for k, s in summaries.items()},
        "comparison": rows, "history": headline["history"], "best_epoch": headline["best_epoch"],
        "config": {k: s["config"] for k, s in summaries.items()}, "seed": headline["seed"],
        "throughput": headline["throughput"],
        "timing": {"train_seconds": sum(s["timing"]["train_seconds"] for s in summaries.values()),
                   "total_seconds": total_seconds},
        "environment": environment_info(str(device)), "git_commit": git_commit(), "data_source": source,
        "extra_tables": {"MLP vs CNN": table},
    }
    write_run_report(out, metrics, {
        "confusion_matrix.png": plot_confusion_matrix(np.array(headline["test"]["confusion_matrix"]), CLASS_NAMES,
                                                      f"{headline['model']}: test confusion matrix"),
        "loss_curve.png": plot_history(headline["history"], f"{headline['model']}: loss and accuracy per epoch",
                                       headline["best_epoch"]),
    })


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser()))
