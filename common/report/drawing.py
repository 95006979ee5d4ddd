"""Every figure of a run, drawn from what the run saved: its metrics.json, predictions.npz, model.npz or
checkpoint, and the test images. The training pipelines draw nothing; a part calls ``draw_run`` when it
has trained, and `make report` calls it for every folder whose figures are missing or not the run's, so
a changed figure needs no retraining.

Which figures a part has is its catalog entry (parts/partN.py, ``CATALOG``); how a figure is drawn
depends on what the record holds (a numpy MLP, Part 4's comparison, a CNN model folder), never on the
part's name. A new figure: a function ``draw_<name>(run)`` in common/render/figures.py and one line in
its part's catalog entry, {"file": ..., "caption": ..., "draw": "<name>"} -- nothing else.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.catalog import PARTS
from common.errors import UserError
from common.experiments.record import read_record, vouches_for, write_run_report
from common.files import load_run_arrays
from common.render.figures import (
    plot_class_images,
    plot_confusion_difference,
    plot_confusion_matrix,
    plot_filters,
    plot_grid_heatmap,
    plot_hidden_units,
    plot_history,
    plot_lr_sweep,
    plot_neuron_weights,
    plot_overlaid_curves,
    plot_per_class_accuracy,
    plot_roc_pr,
    plot_saliency,
    plot_scenario_curves,
    plot_toy_boundaries,
    plot_unit_activity,
    prediction_figures,
)
from common.report.claims import ABLATION

log = logging.getLogger("cifar")


# ----------------------------------------------------------------------------- which figures

def _prefix(record: dict, folder: Path, part_folder: Path) -> str:
    """'' for the part's own folder; 'improved/' for a CNN model folder (by the model it holds, whatever
    the folder is called, e.g. make part5-eval --out elsewhere)."""
    if folder == part_folder and "checkpoint" not in record:
        return ""
    model = (record.get("config") or {}).get("model")
    return f"{model}/" if isinstance(model, str) else f"{folder.name}/"


def figure_names(part: str, record: dict, folder: Path, part_folder: Path) -> list[str]:
    """The catalog's figures of ``part`` that belong in ``folder`` (the part's folder or one of its model
    folders), as names inside it."""
    prefix = _prefix(record, folder, part_folder)
    return [name[len(prefix):] for name, _ in PARTS[part].figures
            if name.startswith(prefix) and "/" not in name[len(prefix):]]


def captions(part: str, record: dict, folder: Path, part_folder: Path) -> dict[str, str]:
    prefix = _prefix(record, folder, part_folder)
    return {name[len(prefix):]: caption for name, caption in PARTS[part].figures if name.startswith(prefix)}


def figures_current(folder: Path, record: dict, wanted: list[str]) -> bool:
    """True when every wanted figure is drawn or said skipped by ``record``, and every drawn one carries
    the record's run id."""
    done = set(record.get("figures", {})) | set(record.get("figures_skipped", {}))
    return set(wanted) <= done and all(vouches_for(folder, record, name) for name in record.get("figures", {}))


# ----------------------------------------------------------------------------- one run's figures

def mlp_figures(record: dict, folder: Path, test_images: np.ndarray, wanted: list[str]) -> tuple[dict, dict]:
    """A numpy MLP's figures ({file: figure}) and those that cannot be drawn ({file: why}), from its record,
    predictions.npz and model.npz."""
    test, title, classes = record["test"], record["title"], tuple(record["classes"])
    figures = {}
    threshold = f" (threshold {test['threshold']:.3f})" if record["task"] == "binary" else ""
    figures["confusion_matrix.png"] = plot_confusion_matrix(np.array(test["confusion_matrix"]), classes,
                                                            f"{title}: test confusion matrix{threshold}")
    not_drawn = {}
    if "confusion_vs_report.png" in wanted:
        figure, why = confusion_vs_report(record)
        if figure is None:
            not_drawn["confusion_vs_report.png"] = why
        else:
            figures["confusion_vs_report.png"] = figure
    if not record["history"]:
        why = f"no epoch was completed ({record['status']}: {record['status_note']})"
        return figures, {name: why for name in wanted if name not in figures}
    figures["loss_curve.png"] = plot_history(record["history"], f"{title}: loss and accuracy per epoch",
                                             record["best_epoch"])
    images, skipped = prediction_figures(test_images, folder / "predictions.npz", title, run_id=record["run_id"])
    figures.update(images)
    skipped.update(not_drawn)
    if skipped.get("predictions.png"):  # the probabilities are not finite: no curve or weight figure either
        return figures, {name: skipped["predictions.png"] for name in wanted if name not in figures}
    saved = load_run_arrays(folder / "predictions.npz", record["run_id"])
    y_true, probabilities = saved["y_true"], saved["probabilities"]
    weights = {k: v for k, v in load_run_arrays(folder / "model.npz", record["run_id"]).items()
               if k.startswith(("W", "b"))}
    if record["task"] == "binary" and "roc_pr.png" in wanted:
        airplane = classes.index("airplane")
        points = {"threshold 0.5": 0.5}
        if "validation" in record:
            points["chosen on validation"] = test["threshold"]
        figures["roc_pr.png"] = plot_roc_pr((y_true == airplane).astype(int), probabilities[:, airplane], points,
                                            f"{title}: airplane vs the rest, test set")
    if "weights.png" in wanted:
        inputs = "standardized pixels" if record["config"]["inputs"] == "standardized" else "pixels / 255"
        if "W2" not in weights:  # one neuron: its weights as an image, turned to speak for airplane
            toward_airplane = weights["W1"][:, 0] * (1 if classes.index("airplane") == 1 else -1)
            figures["weights.png"] = plot_neuron_weights(toward_airplane, f"{title}: the neuron's weights on the "
                                                                          f"{inputs}")
        else:  # a hidden layer: what its units look for, and each class's template through them
            figures["weights.png"] = plot_hidden_units(weights["W1"], weights["W2"], classes,
                                                       f"{title}: weights on the {inputs}")
    return figures, skipped


def confusion_vs_report(record: dict):
    """(figure, '') of a report's rerun's test confusion matrix minus the one its report printed (its file's
    confusion claim on this part), or (None, why) for a run that has no printed matrix to meet."""
    from common.report.report_file import load_report, report_id_of

    report_id = report_id_of(record.get("recipe", ""))
    why = "only a report's rerun has a printed matrix to compare with, where its file gives one (a confusion claim)"
    if report_id is None:
        return None, why
    try:
        report = load_report(report_id)
    except UserError as error:
        return None, f"the report file cannot be read ({error})"
    printed = next((c for c in report.claims if c.kind == "confusion" and c.part == record["part"]), None)
    rerun = np.array(record["test"]["confusion_matrix"])
    if printed is None or np.shape(printed.fields["matrix"]) != rerun.shape:
        return None, why
    return plot_confusion_difference(rerun, np.array(printed.fields["matrix"]), tuple(record["classes"]),
                                     f"{record['title']}: the rerun's test confusion matrix minus {report.title}'s "
                                     f"({printed.section})"), ""


def grid_figures(record: dict, folder: Path, test_images: np.ndarray, wanted: list[str]) -> tuple[dict, dict]:
    """A comparison's figures from its record (scenarios, or the ranking, sweep and every run's history) and
    the headline run's predictions.npz; titles name the part by its record's title."""
    from common.experiments.grid import combination_name
    from common.experiments.toy import toy_results

    figures, skipped, config = {}, {}, record["config"]
    headline = record["headline"]
    name = combination_name(headline)
    which = "headline scenario" if "scenarios" in record else "winner"
    part = record["title"].split(":")[0]  # "Part 4"
    figure, why = unit_activity_figure(record, part)
    if figure is None:
        skipped["activation_stats.png"] = why
    else:
        figures["activation_stats.png"] = figure
    if "scenarios" in record:
        figures["scenario_curves.png"] = plot_scenario_curves(
            {combination_name(s): s["history"] for s in record["scenarios"]}, f"{part}, {record['recipe']}'s scenarios")
        skipped.update({f: "the recipe runs fixed scenarios: no grid, no learning-rate sweep"
                        for f in ("grid_heatmap.png", "lr_sweep.png", "curves_by_optimizer.png",
                                  "curves_by_activation.png", "curves_by_init.png")})
    else:
        skipped["scenario_curves.png"] = "this comparison has no fixed scenarios (a report's recipe has)"
        histories = record.get("histories")
        for attribute in ("optimizer", "activation", "init"):
            if histories is None:  # a record of an older version: its curves cannot be drawn again
                skipped[f"curves_by_{attribute}.png"] = "the record keeps no history per run (an older version " \
                                                        "wrote it); rerun make part4 to draw it"
                continue
            figures[f"curves_by_{attribute}.png"] = plot_overlaid_curves(
                best_curve_per(record["ranking"], histories, attribute),
                f"{part}: best configuration of each {attribute}")
        figures["grid_heatmap.png"] = plot_grid_heatmap(
            record["ranking"], f"{part}: validation accuracy (%) of every combination at its swept learning rate",
            config["activations"], config["optimizers"], config["inits"])
        if record.get("lr_sweep"):
            figures["lr_sweep.png"] = plot_lr_sweep(
                record["lr_sweep"], f"{part}: the learning-rate sweep ({config['sweep_epochs']}-epoch trials, "
                                    f"reference initialization per activation)")
        else:
            skipped["lr_sweep.png"] = "no learning-rate sweep ran (--sweep-epochs 0)"
    figures["toy_boundaries.png"] = plot_toy_boundaries(
        toy_results(), f"{part}: what a 2-16-1 network can draw with each activation (numpy core, 2-D toy sets)")
    figures["confusion_matrix.png"] = plot_confusion_matrix(
        np.array(record["test"]["confusion_matrix"]), tuple(record["classes"]),
        f"{part} {which} ({name}): test confusion matrix")
    if record["history"] and (folder / "predictions.npz").is_file():
        figures["loss_curve.png"] = plot_history(record["history"], f"{part} {which} ({name})", record["best_epoch"])
        images, why = prediction_figures(test_images, folder / "predictions.npz", f"{part} {which} ({name})",
                                         run_id=record["run_id"])
        figures.update(images)
        skipped.update(why)
    else:
        why = f"the {which} ({name}) completed no epoch or has no finite test probabilities ({headline['status']})"
        skipped.update({f: why for f in ("loss_curve.png", "mistakes.png", "predictions.png")})
    return figures, skipped


def unit_activity_figure(record: dict, part: str):
    """(figure, '') of how the hidden units behaved per epoch in a comparison's runs: every scenario, or each
    (activation, initialization)'s best run of a grid; (None, why) where the runs recorded no unit activity."""
    from common.experiments.mlp import PROBE_IMAGES
    from common.metrics import loss_rises

    if "scenarios" in record:
        runs = [(row, row.get("history") or []) for row in record["scenarios"]]
        what = f"{record['recipe']}'s scenarios"
    else:
        histories, seen, runs = record.get("histories") or {}, set(), []
        from common.experiments.grid import history_key
        for row in record.get("ranking") or []:  # best first: the first of each pair is its best
            if (row["activation"], row["init"]) not in seen and history_key(row) in histories:
                seen.add((row["activation"], row["init"]))
                runs.append((row, histories[history_key(row)]))
        what = "the best run of each activation and initialization"
    runs = [(row, history) for row, history in runs if any("dead_units" in h for h in history)]
    if not runs:
        return None, "its runs recorded no unit activity (an older version ran them); run the part again"
    rises = {f"{r['activation']} + {r['optimizer']} + {r['init']}": loss_rises(h) for r, h in runs}
    return plot_unit_activity(runs, f"{part}: how the hidden units behave on {PROBE_IMAGES} fixed training images, "
                                    f"{what}", rises), ""


def best_curve_per(ranking: list[dict], histories: dict[str, list], attribute: str) -> dict[str, list[dict]]:
    """{value of ``attribute``: history of its best configuration} -- ``ranking`` is best first."""
    from common.experiments.grid import combination_name, history_key

    curves, seen = {}, set()
    for row in ranking:
        key = row[attribute]
        if key not in seen and history_key(row) in histories:
            seen.add(key)
            curves[f"{key} (best: {combination_name(row)}, lr {row['lr']:g})"] = histories[history_key(row)]
    return dict(sorted(curves.items()))


def cnn_figures(record: dict, folder: Path, test, device, wanted: list[str]) -> tuple[dict, dict]:
    """One CNN model folder's figures, from its record, predictions.npz and checkpoint (the reported
    epoch's weights)."""
    import torch

    from common.cnn.insight import class_images, first_filters, saliency
    from common.cnn.training import load_checkpoint, model_from_checkpoint
    from common.data.cifar10 import CLASS_NAMES

    name, test_summary = record["model"], record["test"]
    figures = {"confusion_matrix.png": plot_confusion_matrix(np.array(test_summary["confusion_matrix"]), CLASS_NAMES,
                                                             f"{name}: test confusion matrix"),
               "per_class_accuracy.png": plot_per_class_accuracy(test_summary["per_class"],
                                                                 f"{name}: test accuracy per class")}
    if not record["history"]:
        why = f"no epoch was completed ({record['status']}: {record['status_note']})"
        return figures, {f: why for f in wanted if f not in figures}
    figures["loss_curve.png"] = plot_history(record["history"], f"{name}: loss and accuracy per epoch",
                                             record["best_epoch"])
    images = test.images.permute(0, 2, 3, 1).cpu().numpy()
    drawn, skipped = prediction_figures(images, folder / "predictions.npz", name, run_id=record["run_id"])
    figures.update(drawn)
    heavy = {"filters.png", "saliency.png", "class_images.png"} & set(wanted)
    if not heavy:
        return figures, skipped
    if record["status"] == "incomplete":  # drawn once, from the finished run's weights
        return figures, {**skipped, **{f: "the run was interrupted: drawn when --resume finishes it" for f in heavy}}
    checkpoint = folder / f"{record['config']['model']}_cnn.pt"
    model = model_from_checkpoint(load_checkpoint(checkpoint if checkpoint.is_file() else record["checkpoint"]),
                                  device)
    if record["config"].get("channels_last"):
        model = model.to(memory_format=torch.channels_last)
    figures["filters.png"] = plot_filters(first_filters(model), f"{name}: the 64 filters of its first convolution "
                                                                f"(3x3 RGB, grey = 0)")
    labels = test.labels.cpu().numpy()
    firsts = np.array([np.flatnonzero(labels == c)[0] for c in range(len(CLASS_NAMES))])
    maps, p_true = saliency(model, images[firsts], labels[firsts], device)
    figures["saliency.png"] = plot_saliency(images[firsts], maps, labels[firsts], p_true, CLASS_NAMES,
                                            f"{name}: saliency of the first test image of each class (P = the "
                                            f"model's probability of the true class)")
    pictures, start, end = class_images(model, device)
    figures["class_images.png"] = plot_class_images(pictures, CLASS_NAMES, start, end,
                                                    f"{name}: an image per class by gradient ascent on its score "
                                                    f"(L2, jitter, blur)")
    return figures, skipped


# ----------------------------------------------------------------------------- a folder

def draw_run(part: str, folder: Path, *, data_source: str | None = None, redraw: bool = False) -> list[str]:
    """Draw the figures of the run saved in ``folder`` (a part's folder; for Part 5 also each model folder)
    and rewrite its metrics.json and summary.md with them; returns the folders drawn. A folder whose
    figures are already its record's is left as it is unless ``redraw``."""
    folder = Path(folder)
    drawn = []
    for sub in [folder, *sorted(p.parent for p in folder.glob("*/metrics.json") if p.parent.name != ABLATION)]:
        if (sub / "metrics.json").is_file() and draw_folder(part, sub, folder, data_source=data_source,
                                                             redraw=redraw):
            drawn.append(str(sub))
    return drawn


def draw_folder(part: str, folder: Path, part_folder: Path, *, data_source: str | None = None,
                redraw: bool = False) -> bool:
    """Draw the figures of the one record in ``folder`` (``part_folder``: the part's folder it belongs to);
    True when it drew."""
    record = read_record(folder / "metrics.json")
    wanted = figure_names(part, record, folder, part_folder)
    if not wanted or (not redraw and figures_current(folder, record, wanted)):
        return False
    declared = {file: name for file, name in PARTS[part].drawn_by if file in wanted}
    figures, skipped = _figures_of(record, folder, wanted, data_source, declared)
    write_run_report(folder, record, figures, {k: v for k, v in skipped.items() if k not in figures},
                     captions(part, record, folder, part_folder))
    return True


@dataclass(frozen=True)
class SavedRun:
    """What a declared figure (common/render/figures.py's draw_<name>) is drawn from."""

    record: dict  # the run's metrics.json
    folder: Path  # its folder
    test_images: np.ndarray  # (N, 32, 32, 3) uint8, the test set it was evaluated on

    def arrays(self, file: str) -> dict[str, np.ndarray]:
        """A saved .npz of the run (predictions.npz, model.npz), refused when another run wrote it."""
        return load_run_arrays(self.folder / file, self.record.get("run_id"))


def _figures_of(record: dict, folder: Path, wanted: list[str], data_source: str | None,
                declared: dict[str, str] | None = None):
    from common.data.cifar10 import load_cifar10
    from common.render import figures as render

    if "models" in record:  # Part 5's own folder: its figures are its model folders'
        return {}, {}
    data = load_cifar10(data_source or record["data_source"], progress=False)
    if data.fingerprint != record["data_fingerprint"]:
        raise UserError(f"the data at {data.source} is not what the run in {folder} trained on (another "
                        f"fingerprint); its figures need the same test images: pass the run's data source")
    from common.data.preprocess import held_out_as_trained
    data = held_out_as_trained(data, record.get("config") or {})  # the test images the run was tested on
    figures, skipped = _figures_by_kind(record, folder, wanted, data)
    run = SavedRun(record, folder, data.x_test)
    for file, name in (declared or {}).items():
        figures[file] = getattr(render, f"draw_{name}")(run)
    return figures, skipped


def _figures_by_kind(record: dict, folder: Path, wanted: list[str], data):
    """The figures every run of its kind gets (a numpy MLP, Part 4's comparison, a CNN model folder)."""
    if "checkpoint" in record:
        import torch

        from common.cnn.training import DeviceData
        device = record["environment"].get("device", "cpu")  # where the run trained, when it is still there
        device = torch.device(device if device.startswith("cuda") and torch.cuda.is_available() else "cpu")
        test = DeviceData(data.x_test, data.y_test, device)
        return cnn_figures(record, folder, test, device, wanted)
    if "headline" in record:
        return grid_figures(record, folder, data.x_test, wanted)
    return mlp_figures(record, folder, data.x_test, wanted)


def draw_model_folder(part: str, folder: Path, *, data_source: str | None = None) -> bool:
    """make part5-eval: draw the model folder it wrote (wherever --out put it), and nothing else."""
    try:
        return draw_folder(part, Path(folder), Path(folder).parent, data_source=data_source, redraw=True)
    except Exception as error:  # the evaluation's record is written: a figure never changes its exit code
        log.warning("figures of %s not drawn (%s: %s)", folder, type(error).__name__, error)
        return False


def draw_run_safely(part: str, folder: Path, **kwargs) -> list[str]:
    """``draw_run`` for the end of a run and for `make report`: a figure that cannot be drawn (the data
    moved, a missing file) is logged, never allowed to stop the part or the report."""
    try:
        return draw_run(part, folder, **kwargs)
    except Exception as error:  # a figure never stops the part that trained, nor the report
        log.warning("figures of %s not drawn (%s: %s)", folder, type(error).__name__, error)
        return []


# ----------------------------------------------------------------------------- after a run

def finish_run(part: str, run, code: int) -> int:
    """After a part's run (``run``: its RunOptions; ``code``: its exit code): its figures (unless
    --no-figures) and analysis.md, drawn from what it saved -- not after --estimate, nor after Ctrl-C,
    which exits at once (`make report` draws an interrupted run's), nor while another run holds the
    folder. Returns ``code``: what is drawn never changes how the run ended."""
    from common.console import EXIT_INTERRUPTED
    from common.files import ReportFolder
    from common.report.analysis import write_analysis_safely

    out = Path(run.out)
    if run.estimate or code == EXIT_INTERRUPTED or not (out / "metrics.json").is_file():
        return code
    try:
        with ReportFolder(out):
            if run.figures:
                draw_run_safely(part, out, data_source=run.data)
            record = read_record(out / "metrics.json")
            if record["status"] != "incomplete":
                write_analysis_safely(part, out, record)
    except UserError as error:
        log.warning("figures and analysis.md not written: %s", error)
    return code
