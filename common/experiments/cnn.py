"""The CNN pipeline of Part 5: from one config per model to a report folder.

    configs = {"simple": CNNConfig(model="simple", ...), "improved": CNNConfig(model="improved", ...)}
    run_cnn_part(configs, RunOptions(out=Path("reports/part5"), part="part5"), device_name="auto")

For each model: the data on the device (``device_splits``), ``CNNSolver`` (common/cnn/training.py), the
test set evaluated once with the reported epoch's weights and the model's folder written
(``report_model``: metrics.json, summary.md, figures, checkpoint). The part's own metrics.json and
summary.md set the models side by side. ``evaluate_checkpoint`` is `make part5-eval`: the same
report from a saved checkpoint, without training.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from common import metrics
from common.cnn.models import DISPLAY_NAMES, count_parameters, summary_markdown
from common.cnn.training import (
    CNNConfig,
    DeviceData,
    autocast_supported,
    evaluate,
    load_checkpoint,
    model_from_checkpoint,
    pick_device,
    time_training_steps,
    train_cnn,
)
from common.console import EXIT_DIVERGED, EXIT_INTERRUPTED, epoch_progress, log, timed
from common.data.cifar10 import CLASS_NAMES, N_TRAIN, data_fingerprint, load_cifar10
from common.data.preprocess import train_validation_indices
from common.errors import CheckpointError
from common.experiments.record import (
    OtherWork,
    RunOptions,
    complete_record,
    git_commit,
    keep_complete_run,
    keeps_complete_record,
    new_run_id,
    print_estimate,
    recipe_changes,
    run_record,
    write_run_report,
)
from common.files import ReportFolder, atomic_write_npz, atomic_write_text, stamp_markdown
from common.nn.training import STATUS_COMPLETE, STATUS_DIVERGED, STATUS_INCOMPLETE, FitResult
from common.render.tables import markdown_table


def checkpoint_path(out: Path, model: str) -> Path:
    return out / model / f"{model}_cnn.pt"


def training_checkpoint(out: Path, model: str) -> Path:
    """Where a run saves its epochs: the model's checkpoint, or, while the model's folder holds a complete run
    (whose figures and `make part5-eval` read that checkpoint), a file beside it, moved into place when this
    run's record is written, so that a run cut short leaves the complete run whole."""
    path = checkpoint_path(out, model)
    return path.with_name(f"{model}_cnn.next.pt") if complete_record(out / model) else path


def device_splits(data, config: CNNConfig, device: torch.device) -> tuple[DeviceData, DeviceData | None, DeviceData]:
    """Train, validation (None without a validation split) and test images as uint8 on the device."""
    train_idx, val_idx = train_validation_indices(data.y_train, config.val_size, config.seed, config.train_subset)
    val = DeviceData(data.x_train[val_idx], data.y_train[val_idx], device) if config.val_size else None
    return DeviceData(data.x_train[train_idx], data.y_train[train_idx], device), val, \
        DeviceData(data.x_test, data.y_test, device)


def run_cnn_part(configs: dict[str, CNNConfig], run: RunOptions, *, device_name: str = "auto",
                 recipe_note: str = "") -> int:
    """Train and report every model of ``configs``; the part's summary last. Returns the exit code."""
    device = pick_device(device_name)
    if run.estimate:
        fingerprint = data_fingerprint(run.data) if run.resume else None
        left = {m: c.epochs - epochs_done(run.out, m, c, fingerprint) for m, c in configs.items()}
        with OtherWork() as other:
            seconds = sum(seconds_per_epoch(c, device) * left[m] for m, c in configs.items() if left[m])
        return print_estimate(run.part, configs, run, seconds, ", ".join(
            f"{left[m]} epochs of {DISPLAY_NAMES[m]}" + (f" (a checkpoint has done {c.epochs - left[m]})"
                                                         if left[m] < c.epochs else "")
            for m, c in configs.items()) + f" on {device}", other, figure_folders=tuple(configs))
    total_start = time.perf_counter()
    recipe = next(iter(configs.values())).recipe
    run_id = new_run_id()
    recipes = run.recipe_config or {}
    with ReportFolder(run.out) as out:
        if keep_complete_run(out, configs, run):
            return 0
        log.info("device %s%s; recipe '%s'%s", device, f" ({torch.cuda.get_device_name()})" if device.type == "cuda"
                 else "", recipe, f": {recipe_note}" if recipe_note else "")
        with timed("loading CIFAR-10"):
            data = load_cifar10(run.data, progress=run.progress)
        records, kept_interrupted = {}, False
        for name, config in configs.items():
            train, val, test = device_splits(data, config, device)
            log.info("%s: train %d, validation %d, test %d images on %s; %s", DISPLAY_NAMES[name], len(train),
                     len(val) if val else 0, len(test), device, json.dumps(config.as_dict()))
            checkpoint, state = resume_point(out, name, config, data.fingerprint) if run.resume else \
                (training_checkpoint(out, name), None)
            if state is not None and state["complete"]:
                log.info("%s finished its %d epochs before: reporting its checkpoint", checkpoint, state["epoch"])
                model, result = model_from_checkpoint(state, device), result_from_checkpoint(state)
            else:
                done = len(state["history"]) if state else 0
                with epoch_progress(config.epochs, name, bar=run.progress, done=done) as on_epoch:
                    model, result = train_cnn(config, train, val, device, checkpoint, test=test, resume=state,
                                              data_fingerprint=data.fingerprint, on_epoch=on_epoch,
                                              code_version=git_commit(),
                                              extra_state={"recipe_changes": recipe_changes(recipes.get(name),
                                                                                            config)})
            if result.status == STATUS_INCOMPLETE and keeps_complete_record(out / name, result.status, config):
                kept_interrupted = True
                break
            records[name] = report_model(run.part, out / name, model, result, config, val, test, device, data.source,
                                         data.fingerprint, checkpoint_path(out, name), recipe_note, run_id=run_id,
                                         recipe_config=recipes.get(name))
            if checkpoint != checkpoint_path(out, name) and checkpoint.exists():  # its record replaced the other's
                os.replace(checkpoint, checkpoint_path(out, name))
            if result.status == STATUS_INCOMPLETE:
                break
        statuses = [r["status"] for r in records.values()]
        if part_status(statuses, len(configs)) == STATUS_INCOMPLETE and keeps_complete_record(out, STATUS_INCOMPLETE,
                                                                                            configs):
            kept_interrupted = True  # the part's complete record stays, beside what this run's models wrote
        elif records:
            write_part_summary(run.part, out, records, configs, device, data.source, data.fingerprint,
                               recipe_note, total_start, run_id=run_id, recipe_config=run.recipe_config)
    if kept_interrupted:
        return EXIT_INTERRUPTED
    statuses = {r["status"] for r in records.values()}
    if STATUS_INCOMPLETE in statuses:
        log.warning("interrupted: the reports of the completed epochs are in %s, marked incomplete; continue with "
                    "--resume", out)
        return EXIT_INTERRUPTED
    return EXIT_DIVERGED if STATUS_DIVERGED in statuses else 0


def _resume_state(checkpoint: Path, config: CNNConfig, fingerprint: str) -> dict | None:
    if not checkpoint.exists():
        log.info("no checkpoint at %s: %s starts from scratch", checkpoint, config.model)
        return None
    state = load_checkpoint(checkpoint, expected_model=config.model)
    if state["config"] != config.as_dict() or state.get("data_fingerprint") != fingerprint:
        log.info("%s is of another config or data set: %s starts from scratch", checkpoint, config.model)
        return None
    return state


def resume_point(out: Path, model: str, config: CNNConfig, fingerprint: str) -> tuple[Path, dict | None]:
    """What --resume continues from: the model's checkpoint when it finished this config (reported as it is),
    else this run's own (training_checkpoint), with its state (None: from scratch)."""
    finished, own = checkpoint_path(out, model), training_checkpoint(out, model)
    if finished.exists():
        state = _resume_state(finished, config, fingerprint)
        if state is not None and (state["complete"] or own == finished):
            return finished, state
    if own == finished:  # none, or another config's left by a run cut short: from scratch
        return own, None
    return own, _resume_state(own, config, fingerprint) if own.exists() else None


def epochs_done(out: Path, model: str, config: CNNConfig, fingerprint: str | None) -> int:
    """The epochs --resume would not train again (``fingerprint``: the data's; None: no resume)."""
    if fingerprint is None:
        return 0
    try:
        _, state = resume_point(out, model, config, fingerprint)
    except CheckpointError:  # unreadable: the run will say so
        return 0
    if state is None:
        return 0
    return config.epochs if state["complete"] else min(config.epochs, len(state["history"]))  # early stop: all done


def result_from_checkpoint(state: dict) -> FitResult:
    """What training measured, as its checkpoint kept it."""
    history = list(state["history"])
    result = FitResult(history=history, best_epoch=state["best_epoch"], best_val_acc=state["best_val_acc"],
                       status=STATUS_COMPLETE if state.get("complete") else STATUS_INCOMPLETE,
                       note=state.get("note", "") if state.get("complete") else
                       f"checkpoint after epoch {state['epoch']} of {state['config']['epochs']}",
                       train_seconds=sum(h["seconds"] for h in history), segments=list(state.get("segments", [])))
    if result.train_seconds:
        result.images_per_second = sum(h["images_per_second"] * h["seconds"] for h in history) / result.train_seconds
    return result


def report_model(part: str, out: Path, model, result: FitResult, config: CNNConfig, val: DeviceData | None,
                 test: DeviceData, device: torch.device, source: str, fingerprint: str, checkpoint: Path,
                 recipe_note: str = "", *, run_id: str, recipe_config: CNNConfig | None = None,
                 changes: dict | None = None) -> dict:
    """Evaluate the reported model on validation and, once, on the test set; write out/ (one model's folder).

    The validation figure is measured again here, with this evaluation's settings (``--tta`` in
    eval mode may differ from training's), so that recipes can be compared on it. The figures are drawn
    from what this writes (common/report/drawing.py).
    """
    name = DISPLAY_NAMES[config.model]
    started = time.perf_counter() - result.train_seconds  # the model's total: training, evaluation, report
    autocast = config.amp and autocast_supported(device)
    with timed(f"{name}: evaluating on the test set"):
        test_loss, test_acc, probabilities = evaluate(model, test, config, autocast=autocast)
    y_true = test.labels.cpu().numpy()
    summary = metrics.classification_summary(y_true, probabilities.argmax(1), CLASS_NAMES)
    record = run_record(part=part, recipe=config.recipe, status=result.status, status_note=result.note,
                        config=config, seed=config.seed, device=str(device), data_source=source,
                        data_fingerprint=fingerprint, run_id=run_id, recipe_config=recipe_config,
                        title=f"Part 5: {name}")
    if changes is not None:  # given by the caller: an evaluation of a checkpoint, with its training's changes
        record["recipe_changes"] = changes
    record.update({
        "model": name, "classes": list(CLASS_NAMES), "parameters": count_parameters(model),
        "test": {"accuracy": test_acc, "balanced_accuracy": summary["balanced_accuracy"],
                 "macro_f1": summary["macro_f1"], "loss": test_loss, "per_class": summary["per_class"],
                 "confusion_matrix": summary["confusion_matrix"]},
        "best_epoch": result.best_epoch, "epochs_run": len(result.history), "history": result.history,
        "throughput": {"train_images_per_second": result.images_per_second},
        "timing": {"train_seconds": result.train_seconds,
                   "seconds_per_epoch": result.train_seconds / max(1, len(result.history))},
        "checkpoint": str(checkpoint),
        "segments": result.segments,
    })
    if recipe_note:
        record["recipe_note"] = recipe_note
    if val is not None:
        val_loss, val_acc, _ = evaluate(model, val, config, autocast=autocast)
        record["validation"] = {"best_accuracy": result.best_val_acc, "accuracy": val_acc, "loss": val_loss,
                                "tta": config.tta}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_npz(out / "predictions.npz", run_id=run_id, y_true=y_true, y_pred=probabilities.argmax(1),
                     probabilities=probabilities.astype(np.float32), class_names=np.array(CLASS_NAMES))
    atomic_write_text(out / "model_summary.md", stamp_markdown(summary_markdown(model, f"{name}: layers"), run_id))
    record = write_run_report(out, record, started=started)
    log.info("%s: test accuracy %.4f (reporting epoch %d), %.0f training images/s, %.0f s", name, test_acc,
             result.best_epoch, result.images_per_second, result.train_seconds)
    return record


def evaluate_checkpoint(path: Path, run: RunOptions, *, device_name: str = "auto",
                        overrides: dict | None = None) -> int:
    """`make part5-eval`: test-evaluate a checkpoint's reported weights and redraw its figures.

    ``run.out`` is the model's folder to write (by default the checkpoint's own)."""
    device = pick_device(device_name)
    state = load_checkpoint(path)
    config = replace(CNNConfig(**state["config"]), **(overrides or {}))
    with ReportFolder(run.out.parent if run.out == path.parent else run.out):
        model = model_from_checkpoint(state, device)
        if config.channels_last:
            model = model.to(memory_format=torch.channels_last)
        data = load_cifar10(run.data, progress=run.progress)
        _, val, test = device_splits(data, config, device)  # the split it was trained with
        stored = state.get("recipe_changes")
        changes = None if stored is None else {**stored, **{
            k: {"recipe": state["config"][k], "run": v} for k, v in (overrides or {}).items()
            if v != state["config"][k]}}
        report_model(run.part, run.out, model, result_from_checkpoint(state), config, val, test, device, data.source,
                     data.fingerprint, path, run_id=new_run_id(), changes=changes)
    return 0


def write_part_summary(part: str, out: Path, records: dict[str, dict], configs: dict[str, CNNConfig],
                       device: torch.device, source: str, fingerprint: str, recipe_note: str, started: float, *,
                       run_id: str, recipe_config: dict[str, CNNConfig] | None = None) -> None:
    """reports/part5/metrics.json and summary.md: the models side by side. The part is as complete as its
    least complete model: incomplete when a model is missing or interrupted, else diverged when one
    diverged."""
    headline = records.get("improved") or next(iter(records.values()))
    status = part_status([r["status"] for r in records.values()], len(configs))
    notes = "; ".join(f"{r['model']}: {r['status_note']}" for r in records.values() if r["status_note"])
    rows = [{"model": r["model"], "parameters": r["parameters"], "test_accuracy": r["test"]["accuracy"],
             "validation_accuracy": r.get("validation", {}).get("accuracy"), "best_epoch": r["best_epoch"],
             "epochs_run": r["epochs_run"], "train_seconds": r["timing"]["train_seconds"],
             "images_per_second": r["throughput"]["train_images_per_second"], "status": r["status"],
             "report": f"{key}/summary.md"} for key, r in records.items()]
    table = markdown_table(rows, list(rows[0]), {"parameters": ",d", "test_accuracy": ".4f",
                                                 "validation_accuracy": ".4f", "train_seconds": ".0f",
                                                 "images_per_second": ",.0f"})
    record = run_record(part=part, recipe=headline["recipe"], status=status, status_note=notes,
                        config=configs, seed=headline["seed"], device=str(device), data_source=source,
                        data_fingerprint=fingerprint, run_id=run_id, recipe_config=recipe_config)
    record.update({
        "headline_model": headline["model"], "parameters": headline["parameters"], "test": headline["test"],
        "history": headline["history"], "best_epoch": headline["best_epoch"], "epochs_run": headline["epochs_run"],
        "throughput": headline["throughput"], "models": {r["model"]: row for r, row in zip(records.values(), rows)},
        "timing": {"train_seconds": sum(r["timing"]["train_seconds"] for r in records.values())},
        "extra_tables": {"The models side by side": table},
    })
    if recipe_note:
        record["recipe_note"] = recipe_note
    write_run_report(out, record, started=started)


def part_status(statuses: list[str], expected: int) -> str:
    """The part's status from its models': incomplete when one is interrupted or missing, else diverged when
    one diverged, else complete -- never complete while a model is not."""
    if STATUS_INCOMPLETE in statuses or len(statuses) < expected:
        return STATUS_INCOMPLETE
    return STATUS_DIVERGED if STATUS_DIVERGED in statuses else STATUS_COMPLETE


def seconds_per_epoch(config: CNNConfig, device: torch.device) -> float:
    """One epoch of this model on ``device``, from a few training steps timed here (plus a tenth for
    the per-epoch evaluation)."""
    n_train = min(config.train_subset or N_TRAIN, N_TRAIN - config.val_size)
    per_step = time_training_steps(config, device, steps=3)["seconds_per_step"]
    return per_step * math.ceil(n_train / config.batch_size) * 1.1
