"""The claim vocabulary: what a report file may state, and how each kind is judged from the saved runs.

A claim names runs by reference, ``[tuned:]partN[/name][@variant]``:

    part3                              the report's recipe rerun: reports/<report id>/part3/
    part4/sigmoid + momentum + small   one run inside a part: a Part 4 scenario, a Part 5 model folder
    tuned:part4/* + momentum + *       this suite's recipe (reports/part4/); '*' matches several runs of
                                       its grid, and a figure of the group is their mean
    part5/simple@simple-with-batchnorm the run of the report file's variant [part5.variants.simple-with-batchnorm]:
                                       its recipe with the variant's changes (reports/<report id>/variants/part5/)

and figures by metric name (``METRICS``) or curve name (``CURVES``). Each kind (``KINDS``) declares
its fields, their types and defaults, a sentence on when it holds, and its judge; student_reports/
README.md shows an example of each. A new kind is one ``Kind`` entry and its judge function here.

Every verdict is one of holds / does not hold / too close to call / not measured, and comes only
from complete runs of exactly the recipe the claim names (``why_not_judged``); anything else reads
"not measured" with the reason.
"""
from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.catalog import PARTS
from common.data.cifar10 import CLASS_NAMES
from common.experiments.mlp import PROBE_IMAGES
from common.metrics import RISE, classification_summary, loss_rises, scored_predictions
from common.nn.network import DEAD_SLOPE, SATURATED_SLOPE
from common.paths import VARIANTS

HOLDS, FAILS, NOT_MEASURED, TOO_CLOSE = "holds", "does not hold", "not measured", "too close to call"
VERDICTS = (HOLDS, FAILS, TOO_CLOSE, NOT_MEASURED)
TUNED = "tuned"  # this suite's recipe: the prefix "tuned:" of a run reference
CLASSES = (*CLASS_NAMES, "rest")  # the ten classes, and the binary parts' "rest"

# metric: (arguments it takes, what it reads). Figures a run records at its reported epoch.
METRICS: dict[str, tuple[tuple[str, ...], str]] = {
    "accuracy": ((), "test accuracy"),
    "val_accuracy": ((), "validation accuracy (a grid's runs: each run's best)"),
    "precision": (("class",), "test precision of one class"),
    "recall": (("class",), "test recall of one class"),
    "f1": (("class",), "test F1 of one class"),
    "class_accuracy": (("class",), "test accuracy on one class's images (its recall)"),
    "macro_precision": ((), "test precision, the mean over the classes"),
    "macro_recall": ((), "test recall, the mean over the classes"),
    "macro_f1": ((), "test F1, the mean over the classes"),
    "confusion": (("true class", "predicted class"), "test images of one class predicted as another"),
    "final_train_loss": ((), "training loss of the last epoch"),
    "final_test_loss": ((), "test loss of the last epoch"),
    "parameters": ((), "trainable parameters"),
    "train_seconds": ((), "seconds of training"),
    # How the hidden units and the loss behave (an MLP's run); common/nn/network.py MLP.unit_activity measures them.
    "dead_units": ((), f"share of hidden units dead after the last epoch: slope under {DEAD_SLOPE:.0%} of the "
                       f"largest for every one of {PROBE_IMAGES} fixed training images"),
    "saturated_units": ((), f"share of hidden activations (image x unit) saturated after the last epoch, sigmoid or "
                            f"tanh: slope under {SATURATED_SLOPE:.0%} of the largest, on {PROBE_IMAGES} fixed "
                            f"training images"),
    "loss_rises": ((), f"oscillation of the training loss: the share of epochs after the first whose training loss "
                       f"rose by more than {RISE:.0%} over the previous epoch's"),
}
ACTIVITY_METRICS = ("dead_units", "saturated_units")  # read from the last epoch of the history
# The test figures of the predicted classes: what a report's scoring (SCORINGS) changes.
SCORED_METRICS = ("accuracy", "precision", "recall", "f1", "class_accuracy", "macro_precision", "macro_recall",
                  "macro_f1", "confusion")
# What a run inside a comparison (a Part 4 scenario, or a group of its grid's runs) records: its row.
ROW_METRICS = ("accuracy", "val_accuracy", "macro_f1", "macro_precision", "macro_recall", "final_train_loss",
               "train_seconds", "parameters", *ACTIVITY_METRICS, "loss_rises")
# Curves: a history key per epoch.
CURVES = {"train_loss": "training loss", "train_acc": "training accuracy", "val_loss": "validation loss",
          "val_acc": "validation accuracy", "test_loss": "test loss", "test_acc": "test accuracy"}

_REF = re.compile(r"^(?:(?P<recipe>[a-z]+):)?(?P<part>[A-Za-z0-9_]+)(?:/(?P<name>[^@]+))?(?:@(?P<variant>[^@/]+))?$")
_METRIC = re.compile(r"^(?P<name>[a-z_0-9]+)(?:\[(?P<args>[^\]]*)\])?$")


# ----------------------------------------------------------------------------- what a claim is

@dataclass(frozen=True)
class Claim:
    part: str  # the part whose table lists it
    kind: str  # a key of KINDS
    says: str  # the report's words (a figure's are made from its metric and value)
    section: str  # the report's section number: "1.9"
    fields: dict  # the kind's fields, defaults filled in
    where: str = ""  # its key path in the file: "part4.claims[2]"
    garbled: bool = False  # read through garbled text
    not_compared: str = ""  # why it is not compared ('' = it is)
    note: str = ""  # what a reader should know when reading the verdict
    headline: bool = False  # the part's result, shown in the results table
    scoring: str = "argmax"  # how the report made its figures' predictions (a key of common.metrics.SCORINGS)


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    verdict: str  # holds, does not hold, too close to call, not measured
    numbers: str  # the measurements behind it, or why it is not measured
    source: str = ""  # which runs

    @property
    def part(self) -> str:
        return self.claim.part


class Unmeasured(Exception):
    """A figure a run cannot give; the message is why (the verdict's "not measured: ...")."""


# ----------------------------------------------------------------------------- references

@dataclass(frozen=True)
class RunRef:
    text: str
    part: str
    name: str = ""  # a run inside the part ('' = the part's own record)
    recipe: str = ""  # '' = the report's recipe; "tuned" = this suite's
    variant: str = ""  # a variant the report file declares ([partN.variants.<variant>]); '' = the recipe itself

    @property
    def group(self) -> bool:
        return "*" in self.name


def parse_ref(text: str) -> RunRef:
    """A run reference; ValueError saying what is wrong."""
    match = _REF.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"{text!r} is not a run reference; write partN, partN/<run>, tuned:partN[/<run>] or "
                         f"partN[/<run>]@<variant>")
    recipe, part, name = match["recipe"] or "", match["part"], (match["name"] or "").strip()
    variant = (match["variant"] or "").strip()
    if recipe and recipe != TUNED:
        raise ValueError(f"{text!r}: unknown recipe prefix {recipe!r}; only 'tuned:' (this suite's recipe) is known")
    if part not in PARTS:
        raise ValueError(f"{text!r} names no part; the parts are {', '.join(PARTS)}")
    if variant and (recipe or "*" in name):
        raise ValueError(f"{text!r}: '@<variant>' names a variant the report file declares, of the report's recipe "
                         f"and of one run; drop {'the tuned: prefix' if recipe else 'the *'}")
    if "*" in name and not recipe:
        raise ValueError(f"{text!r}: '*' matches runs of this suite's grid only; write tuned:{part}/{name}")
    return RunRef(text.strip(), part, name, recipe, variant)


def parse_metric(text: str) -> tuple[str, tuple[str, ...]]:
    """("precision", ("rest",)) from "precision[rest]"; ValueError saying what is wrong."""
    match = _METRIC.match(text.strip()) if isinstance(text, str) else None
    if not match or match["name"] not in METRICS:
        raise ValueError(f"{text!r} is not a metric; use one of {', '.join(METRICS)} (with [class] where it takes "
                         f"one)")
    wants = METRICS[match["name"]][0]
    args = tuple(a.strip() for a in match["args"].split(",")) if match["args"] else ()
    if len(args) != len(wants):
        shown = f"{match['name']}[{', '.join(wants)}]" if wants else match["name"]
        raise ValueError(f"{text!r}: write {shown}")
    for arg in args:
        if arg not in CLASSES:
            raise ValueError(f"{text!r}: unknown class {arg!r}; the classes are {', '.join(CLASSES)}")
    return match["name"], args


def metric_words(metric: str) -> str:
    """'test accuracy', "'rest' precision", 'ImprovedCNN ...' -- a metric for a sentence."""
    name, args = parse_metric(metric)
    if name == "confusion":
        return f"test {args[0]} images taken for {args[1]}"
    if name == "class_accuracy":
        return f"'{args[0]}' test accuracy (the share of its test images classified right: its recall)"
    if args:
        return f"'{args[0]}' {METRICS[name][1].replace(' of one class', '')}"
    return METRICS[name][1]


def figure_words(fields_: dict) -> str:
    ref = parse_ref(fields_["run"])
    who = f"{ref.name}: " if ref.name else ""
    return f"{who}{metric_words(fields_['metric'])} {_shown(fields_['metric'], fields_['value'])}"


def _shown(metric: str, value: float) -> str:
    name = metric.split("[", 1)[0]
    if name in ("parameters", "confusion"):
        return f"{value:,.0f}"
    if name == "train_seconds":
        return f"{value:,.0f} s" if value >= 100 else f"{value:.3g} s"
    if name in (*ACTIVITY_METRICS, "loss_rises"):
        return f"{value:.1%}"
    return f"{value:.4f}"


# ----------------------------------------------------------------------------- field checks

FieldCheck = Callable[[object], object]  # returns the value (converted) or raises ValueError


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _int(value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def _bool(value):
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _run(value):
    parse_ref(value)
    return value.strip()


def _metric(value):
    parse_metric(value)
    return value.strip()


def _curve(value):
    if not isinstance(value, str) or value not in CURVES:
        raise ValueError(f"{value!r} is not a curve; use one of {', '.join(CURVES)}")
    return value


def _matrix(value):
    if not isinstance(value, list) or not value or not all(isinstance(r, list) and len(r) == len(value)
                                                           for r in value):
        raise ValueError("expected a square array of arrays, one row per true class")
    return [[_int(v) for v in row] for row in value]


def _ints(value):
    if not isinstance(value, list) or not value:
        raise ValueError("expected a non-empty array of integers")
    return [_int(v) for v in value]


def _ablation(value):
    if value not in ABLATION_CHANGES or value == "none":
        raise ValueError(f"{value!r} is not one of ImprovedCNN's changes; use one of "
                         f"{', '.join(v for v in ABLATION_CHANGES if v != 'none')}")
    return value


TYPES: dict[str, FieldCheck] = {"number": _number, "int": _int, "bool": _bool, "run": _run, "metric": _metric,
                                "curve": _curve, "matrix": _matrix, "ints": _ints, "ablation": _ablation}


# ----------------------------------------------------------------------------- the runs a claim reads

@dataclass
class RunView:
    """What one reference resolves to: a record (a part's or a model folder's), a scenario row of a part
    record, or a group of a grid's rows; ``why`` is '' when a verdict may come from it."""

    ref: RunRef
    label: str  # for the verdict's source: "report 000's recipe rerun (reports/000/part3)"
    why: str = ""
    record: dict | None = None  # a part or model record
    row: dict | None = None  # a scenario row (Part 4)
    rows: list = field(default_factory=list)  # a group of grid rows
    part_record: dict | None = None  # the part's record the row(s) came from
    folder: Path | None = None  # the record's folder: its predictions.npz, for another scoring

    @property
    def history(self) -> list[dict]:
        if self.row is not None:
            return self.row.get("history") or []
        return (self.record or {}).get("history") or []

    def measure(self, metric: str, scoring: str = "argmax") -> float:
        """``metric`` of the run; with a ``scoring`` other than argmax, its test figures are those of the
        predictions that scoring makes from the run's saved class probabilities."""
        name, args = parse_metric(metric)
        if scoring != "argmax" and name in SCORED_METRICS:
            return _record_value({"test": self._rescored_test(scoring)}, name, args, self.ref.text)
        if (self.rows or self.row is not None) and name not in ROW_METRICS:
            raise Unmeasured(f"not measured: a run inside a comparison records {', '.join(ROW_METRICS)} only, not "
                             f"{metric}")
        if self.rows:
            values = [self._row_value(row, name) for row in self.rows]
            values = [v for v in values if v is not None and math.isfinite(v)]
            if not values:
                raise Unmeasured(f"not measured: no run of {self.ref.text} has {metric}")
            return float(np.mean(values))
        if self.row is not None:
            value = self._row_value(self.row, name)
            if value is None and name == "parameters" and self.part_record is not None:
                value = self.part_record.get("parameters")
            if value is None or not math.isfinite(value):
                raise Unmeasured(f"not measured: the run's record has no {metric} for {self.ref.text}{_older(name)}")
            return float(value)
        return _record_value(self.record or {}, name, args, self.ref.text)

    def _rescored_test(self, scoring: str) -> dict:
        if self.record is None or self.folder is None:
            raise Unmeasured(f"not measured: a run inside a comparison keeps no predictions to score by "
                             f"{scoring!r}")
        from common.errors import UserError
        from common.files import load_run_arrays
        try:
            arrays = load_run_arrays(self.folder / "predictions.npz", self.record.get("run_id"))
        except (OSError, ValueError, UserError) as error:
            raise Unmeasured(f"not measured: {self.ref.text}'s test predictions cannot be read to score them by "
                             f"{scoring!r} ({error})") from None
        names = tuple(str(n) for n in arrays["class_names"]) if "class_names" in arrays else \
            tuple(self.record["test"].get("per_class", {}))
        return classification_summary(arrays["y_true"], scored_predictions(arrays["probabilities"], scoring), names)

    @staticmethod
    def _row_value(row: dict, name: str) -> float | None:
        key = {"accuracy": "test_acc", "val_accuracy": "val_acc", "macro_f1": "test_macro_f1",
               "macro_precision": "test_macro_precision", "macro_recall": "test_macro_recall",
               "train_seconds": "seconds", "parameters": "parameters"}.get(name)
        if name in ("final_train_loss", *ACTIVITY_METRICS, "loss_rises"):
            return _history_value(row.get("history") or [], name)
        value = row.get(key) if key else None
        return None if value is None or (key == "parameters" and not value) else float(value)

    def curve(self, name: str) -> list[tuple[int, float]]:
        points = curve_points(self.history, name)
        if not points:
            raise Unmeasured(f"not measured: {self.ref.text} recorded no {CURVES[name]} curve")
        return points


def curve_points(history: list[dict], name: str) -> list[tuple[int, float]]:
    """(epoch, value) of the history curve ``name``, for the epochs that recorded a finite value."""
    return [(h["epoch"], h[name]) for h in history if isinstance(h.get(name), (int, float)) and math.isfinite(h[name])]


def lowest_and_last(points: list[tuple[int, float]]) -> tuple[tuple[int, float], tuple[int, float]]:
    """A curve's lowest point and its last, each (epoch, value): whether and how far a loss turned."""
    return min(points, key=lambda point: point[1]), points[-1]


def _record_value(record: dict, name: str, args: tuple[str, ...], ref: str) -> float:
    value = _read_value(record, name, args)
    if value is None or not math.isfinite(value):
        raise Unmeasured(f"not measured: {ref}'s record has no {name}{'[' + ','.join(args) + ']' if args else ''}"
                         f"{_older(name)}")
    return value


def _older(name: str) -> str:
    """Why a record may lack a unit-activity figure: it was written before they were measured."""
    return ("; a run recorded before the hidden units' activity was measured has none: run it again with "
            "ARGS=--force") if name in ACTIVITY_METRICS else ""


def _read_value(record: dict, name: str, args: tuple[str, ...]) -> float | None:
    test = record.get("test") or {}
    per_class = test.get("per_class") or {}
    try:
        if name == "accuracy":
            return float(test["accuracy"])
        if name == "val_accuracy":
            return float(record["validation"]["accuracy"])
        if name in ("precision", "recall", "f1", "class_accuracy"):
            return float(per_class[args[0]]["recall" if name == "class_accuracy" else name])
        if name.startswith("macro_"):
            if name == "macro_f1" and "macro_f1" in test:
                return float(test["macro_f1"])
            key = name.removeprefix("macro_")
            return float(np.mean([scores[key] for scores in per_class.values()])) if per_class else None
        if name == "confusion":
            names = list(per_class)
            return float(test["confusion_matrix"][names.index(args[0])][names.index(args[1])])
        if name in ("final_train_loss", "final_test_loss", *ACTIVITY_METRICS, "loss_rises"):
            return _history_value(record.get("history") or [], name)
        if name == "parameters":
            return float(record["parameters"])
        if name == "train_seconds":
            return float(record["timing"]["train_seconds"])
    except (KeyError, IndexError, ValueError, TypeError):
        return None
    return None


def _history_value(history: list[dict], name: str) -> float | None:
    """A figure read off a run's history: the last epoch's loss or unit activity, or the loss's rises."""
    if name == "loss_rises":
        return loss_rises(history)
    key = {"final_train_loss": "train_loss", "final_test_loss": "test_loss"}.get(name, name)
    value = history[-1].get(key) if history else None
    return None if value is None else float(value)


class RunBook:
    """Resolves run references to saved runs: the report's under ``reports``/<report id>/, this suite's
    under ``reports``/. A run made from another version of its recipe is not judged: ``recipes`` ({recipe
    name: {part: its config as the parts build it now}}) says what each recipe is now; without it, the
    report file's tables (``recipe_overrides``, {part: table}) are compared setting by setting; a variant's run
    is found by the changes its configs make (``recipes``' "partN@variant"), or, without them, by its table's
    settings (``variants``, {part: {name: table}})."""

    def __init__(self, reports: Path, report_id: str | None = None,
                 recipe_overrides: dict[str, dict] | None = None, title: str = "",
                 recipes: dict[str, dict] | None = None, variants: dict[str, dict] | None = None):
        self.reports = Path(reports)
        self.report_id = report_id
        self.title = title or f"report {report_id}"
        self.recipe_overrides = recipe_overrides or {}
        self.recipes = recipes or {}
        self.variants = variants or {}  # {part: {variant name: its settings table}}, as the report file gives them
        self._records: dict[Path, dict | None] = {}

    @classmethod
    def for_report(cls, report, reports: Path, recipes: dict[str, dict] | None = None) -> RunBook:
        """The book a report file's claims are judged with (``report``: a report_file.Report)."""
        return cls(reports, report.id, {part: table.recipe for part, table in report.parts.items()}, report.title,
                   recipes, {part: table.variants for part, table in report.parts.items() if table.variants})

    def shown(self, path: Path) -> Path:
        """``path`` as verdicts show it: from the project's root (reports/...) where it lies under it."""
        return path.relative_to(self.reports.parent) if path.is_relative_to(self.reports.parent) else path

    def root(self, ref: RunRef) -> Path:
        return self.reports if ref.recipe == TUNED else self.reports / str(self.report_id)

    def recipe(self, ref: RunRef) -> str:
        return TUNED if ref.recipe == TUNED else f"report {self.report_id}"

    def read(self, path: Path) -> dict | None:
        if path not in self._records:
            from common.errors import UserError
            from common.experiments.record import read_record
            try:
                self._records[path] = read_record(path) if path.is_file() else None
            except UserError as error:  # unreadable: judged as not measured, never a crash
                self._records[path] = {"status": "unreadable", "status_note": str(error), "recipe_changes": {}}
        return self._records[path]

    def view(self, text: str) -> RunView:
        ref = parse_ref(text)
        if ref.variant:
            return self.variant_view(ref)
        root, recipe = self.root(ref), self.recipe(ref)
        folder = root / ref.part
        shown = self.shown(folder)
        label = (f"this suite's {TUNED} recipe ({shown})" if ref.recipe == TUNED else
                 f"{self.title}'s recipe rerun ({shown})")
        if ref.name and not ref.group and (folder / ref.name / "metrics.json").is_file():  # a model's own folder
            sub = self.read(folder / ref.name / "metrics.json")
            return RunView(ref, f"{label[:-1]}/{ref.name})", self._why(sub, ref, recipe, ref.name), record=sub,
                           folder=folder / ref.name)
        record = self.read(folder / "metrics.json")
        why = self._why(record, ref, recipe, ref.name)
        if not ref.name:
            return RunView(ref, label, why, record=record, folder=folder)
        if why:
            return RunView(ref, label, why)
        if "scenarios" in record or "ranking" in record:
            rows = record.get("scenarios") or record.get("ranking") or []
            from common.experiments.grid import combination_name
            matched = [r for r in rows if fnmatch.fnmatchcase(combination_name(r), ref.name)]
            if not matched:
                names = sorted({combination_name(r) for r in rows})
                return RunView(ref, label, f"not measured: {ref.part}'s run has no {ref.name!r} (it ran: "
                                           f"{'; '.join(names[:6])}{' ...' if len(names) > 6 else ''})")
            if ref.group:
                done = [r for r in matched if r.get("status", "complete") == "complete"]
                if len(done) < len(matched):
                    return RunView(ref, label, f"not measured: {len(matched) - len(done)} of the {len(matched)} runs "
                                               f"{ref.name!r} matches did not complete")
                return RunView(ref, label, rows=done, part_record=record)
            row = matched[0]
            if row.get("status") != "complete":
                return RunView(ref, label, f"not measured: {ref.name} is {row.get('status')} after "
                                           f"{row.get('epochs_run')} epochs")
            return RunView(ref, label, row=row, part_record=record)
        return RunView(ref, label, f"not measured: {ref.part}'s run has no {ref.name!r} (no {ref.name}/ folder in "
                                   f"{shown})")

    def variant_view(self, ref: RunRef) -> RunView:
        """The run of the report file's variant ``ref.variant`` of ``ref.part``: its recipe with exactly the
        variant's changes, found among the recipe's variants by its record's ``recipe_changes`` (the folder's name
        is not read). With the configs as the parts build them now (``recipes``), the changes are those configs'
        and a run of an earlier version of the variant is not judged; without them, the changes are the variant's
        table as the file gives it."""
        from common.experiments.record import changes_text, recipe_changes
        recipe = self.recipe(ref)
        what = f"{ref.part}{'/' + ref.name if ref.name else ''}@{ref.variant}"
        recipes = self.recipes.get(recipe) or {}
        base, config = recipes.get(ref.part), recipes.get(f"{ref.part}@{ref.variant}")
        table = (self.variants.get(ref.part) or {}).get(ref.variant)
        label = f"{self.title}'s recipe, variant {ref.variant}"
        folder = self.root(ref) / VARIANTS / ref.part
        if base is not None and config is not None:
            in_folder = bool(ref.name) and isinstance(base, dict)  # a model's own folder (Part 5)
            if in_folder:
                if ref.name not in base:
                    return RunView(ref, label, f"not measured: {what} names no model of {ref.part} ({', '.join(base)})")
                base, config = base[ref.name], config[ref.name]
            expected = {key: change["run"] for key, change in recipe_changes(base, config).items()}
        elif table is not None:
            in_folder = bool(ref.name) and any(folder.glob(f"*/{ref.name}/metrics.json"))
            settings = {k: v for k, v in table.items() if k != "why" and not (in_folder and isinstance(v, dict))}
            if in_folder and isinstance(table.get(ref.name), dict):
                settings.update(table[ref.name])
            expected = _flat(settings)
        else:
            return RunView(ref, label, f"not measured: {self.title} declares no variant {ref.variant!r} of "
                                       f"{ref.part}")
        if not expected:
            return RunView(ref, label, f"not measured: variant {ref.variant} leaves {what.split('@')[0]} as the "
                                       f"recipe runs it")
        how = f"make {ref.part} ARGS=\"--report {self.report_id} --variant {ref.variant}\""
        for path in sorted(folder.glob(f"*/{ref.name}/metrics.json" if in_folder else "*/metrics.json")):
            record = self.read(path)
            changes = (record or {}).get("recipe_changes")
            if not record or record.get("recipe") != recipe or not isinstance(changes, dict) or \
                    {key: change.get("run") for key, change in changes.items()} != expected:
                continue
            label = f"{self.title}'s recipe with {changes_text(changes)} ({self.shown(path.parent)})"
            why = why_not_judged({**record, "recipe_changes": {}}, what, recipe)
            stale = [] if why or config is None else changed_settings(record.get("config") or {}, config)
            if stale:
                why = f"not measured: {what} ran an earlier version of the variant ({'; '.join(stale)}); run it " \
                      f"again: {how}"
            if ref.name and not in_folder and not why:  # a run inside the variant's comparison (Part 4)
                from common.experiments.grid import combination_name
                rows = record.get("scenarios") or record.get("ranking") or []
                row = next((r for r in rows if combination_name(r) == ref.name), None)
                if row is None or row.get("status") != "complete":
                    state = "not in its run" if row is None else row.get("status")
                    return RunView(ref, label, f"not measured: {what} is {state}")
                return RunView(ref, label, row=row, part_record=record)
            return RunView(ref, label, why, record=record, folder=path.parent)
        return RunView(ref, label, f"not measured: {what} has not run ({how}, or make reproduce "
                                   f"REPORT={self.report_id})")

    def seed_view(self, view: RunView, seed: int) -> RunView | None:
        """The run of ``view``'s recipe with only its seed changed to ``seed`` (a variant of a part's record,
        found by its record's fields; for a scenario of a comparison, a variant that may also run fewer
        scenarios), or None where none ran."""
        if view.rows:
            return None  # a group of a comparison's runs: its seeds are not variants of their own
        folder = self.root(view.ref) / VARIANTS / view.ref.part
        in_folder = view.ref.name and view.row is None  # a model's own folder (Part 5)
        pattern = f"*/{view.ref.name}/metrics.json" if in_folder else "*/metrics.json"
        for path in sorted(folder.glob(pattern)):
            record = self.read(path)
            changes = (record or {}).get("recipe_changes") or {}
            allowed = ("seed", "scenarios") if view.row is not None else ("seed",)
            seeds = [change["run"] for key, change in changes.items() if key.rsplit(".", 1)[-1] == "seed"]
            if record.get("recipe") != self.recipe(view.ref) or not seeds or set(seeds) != {seed} or \
                    any(key.rsplit(".", 1)[-1] not in allowed for key in changes):
                continue
            exact = {**record, "recipe_changes": {}}  # judged as its recipe but for the seed (and scenarios)
            why = self._why(exact, view.ref, self.recipe(view.ref), view.ref.name, ignore=allowed)
            label = f"{view.label[:-1]}, seed {seed}: {path.parent.relative_to(self.reports)})"
            if view.row is None:
                return RunView(view.ref, label, why, record=record)
            from common.experiments.grid import combination_name
            row = next((r for r in record.get("scenarios") or [] if combination_name(r) == view.ref.name and
                        r.get("seed", seed) == seed), None)
            if row is None:
                continue
            if not why and row.get("status") != "complete":
                why = f"not measured: {view.ref.name}, seed {seed}, is {row.get('status')}"
            return RunView(view.ref, label, why, row=row, part_record=record)
        return None

    def _why(self, record: dict | None, ref: RunRef, recipe: str, name: str = "", ignore: tuple[str, ...] = ()) -> str:
        what = f"{ref.part}{'/' + name if name else ''}"
        args = "" if ref.recipe == TUNED else f"--report {self.report_id}"
        how = f"make {ref.part}" + (f" ARGS=\"{args}\"" if args else "")
        how_long = f"make {ref.part} ARGS=\"{(args + ' --estimate').strip()}\" says how long it takes here"
        if record is None:
            also = "" if ref.recipe == TUNED else f", or make reproduce REPORT={self.report_id} for all"
            return f"not measured: {what} has not run with {recipe}'s recipe ({how}{also}; {how_long})"
        if record.get("status") == "unreadable":
            return f"not measured: {what}'s record cannot be read ({record.get('status_note')})"
        why = why_not_judged(record, what, recipe)
        if why:
            return why
        now = (self.recipes.get(recipe) or {}).get(ref.part)
        if now is not None:
            if isinstance(now, dict) and name in now:  # a model's own record, against that model's recipe
                now = now[name]
            stale = changed_settings(record.get("config") or {}, now, ignore)
        elif ref.recipe != TUNED:
            stale = stale_settings(record.get("config") or {}, self.recipe_overrides.get(ref.part) or {})
        else:
            stale = []
        if stale:
            return (f"not measured: {what} ran an earlier version of {recipe}'s recipe ({'; '.join(stale)}); run "
                    f"it again: {how} ({how_long})")
        return ""


def changed_settings(saved: dict, config, ignore: tuple[str, ...] = ()) -> list[str]:
    """'lr 0.01 then, 0.05 now' for every setting in which a run's saved config differs from ``config`` (a
    config dataclass, or {model: config}: only the models the run trained), the recipe's labels aside."""
    from common.experiments.record import config_dict, with_defaults
    if isinstance(config, dict):
        config = {k: v for k, v in config.items() if k in saved} or config
    then, now = _flat(with_defaults(saved, config)), _flat(config_dict(config))
    return [f"{key} {then.get(key)!r} then, {value!r} now" for key, value in now.items()
            if then.get(key) != value and key.rsplit(".", 1)[-1] not in ("recipe", *ignore)]


def _flat(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def stale_settings(config: dict, overrides: dict, prefix: str = "") -> list[str]:
    """'lr 0.01 then, 0.05 now' for each setting of a report file's recipe table (``overrides``) that the
    run's saved ``config`` does not have: the file changed after the run. A nested table applies to the
    config entry of its name (Part 4's base, a Part 5 model), or to nothing in a config without it."""
    stale = []
    for key, wanted in overrides.items():
        if isinstance(wanted, dict):
            if isinstance(config.get(key), dict):
                stale += stale_settings(config[key], wanted, f"{prefix}{key}.")
            elif config.get("model") == key:  # a model's own table, in that model's record
                stale += stale_settings(config, wanted, prefix)
            continue
        if any(isinstance(v, dict) and "model" in v for v in config.values()):  # {model: config}: each model
            for name, sub in config.items():
                stale += stale_settings(sub, {key: wanted}, f"{prefix}{name}.")
            continue
        had = config.get(key)
        if _plain(had) != _plain(wanted):
            stale.append(f"{prefix}{key} {had!r} then, {wanted!r} now")
    return stale


def _plain(value):
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


# ----------------------------------------------------------------------------- which runs can be judged

def why_not_judged(record: dict | None, what: str = "", recipe: str | None = None) -> str:
    """'' when ``record`` is a complete run of exactly its recipe -- ``recipe``, when given: the one the
    claim names -- so that a verdict may come from it; else the reason no verdict can, as "not measured:
    ..." (``what`` names the run in the sentence)."""
    name = f"{what} " if what else ""
    if record is None:
        return f"not measured: the {name}run is not there"
    if recipe is not None and record.get("recipe") != recipe:
        return f"not measured: the {name}run followed the {record.get('recipe')!r} recipe, not {recipe!r}"
    if "recipe_changes" not in record:
        return (f"not measured: the {name}run was written by an older version of the suite (schema "
                f"{record.get('schema', '?')}), which did not record whether it ran its recipe unchanged; rerun it")
    status, done = record.get("status"), record.get("epochs_run", len(record.get("history") or []))
    planned = planned_epochs(record)
    of = f" of {planned}" if planned else ""
    if status == "incomplete" and isinstance((record.get("config") or {}).get("base"), dict):  # a grid of runs
        return f"not measured: the {name}comparison was interrupted ({record.get('status_note', '')})"
    if status == "incomplete":
        return f"not measured: the {name}run was interrupted after {done}{of} epochs ({record.get('status_note', '')})"
    if status == "diverged":
        return f"not measured: the {name}run diverged after {done}{of} epochs ({record.get('status_note', '')})"
    if status != "complete":
        return f"not measured: the {name}run is {status} ({record.get('status_note', '')})"
    if record["recipe_changes"] is None:
        return f"not measured: the {name}run names no recipe it followed"
    if record["recipe_changes"]:
        from common.experiments.record import changes_text
        return f"not measured: the {name}run changed {changes_text(record['recipe_changes'])}"
    return ""


def planned_epochs(record: dict) -> int | None:
    """The epochs the record's config schedules (a grid: each run's), or None where it does not say."""
    config = record.get("config") or {}
    if isinstance(config.get("epochs"), int):
        return config["epochs"]
    if isinstance(config.get("base"), dict) and isinstance(config["base"].get("epochs"), int):
        return config["base"]["epochs"]
    return None


def judged(record: dict | None, recipe: str | None = None) -> dict | None:
    """``record`` when a verdict may come from it (``why_not_judged`` is empty), else None."""
    return record if record is not None and not why_not_judged(record, recipe=recipe) else None


# ----------------------------------------------------------------------------- comparing numbers

def near(measured: float, reported: float, tolerance: float, relative: bool = False) -> str:
    band = tolerance * abs(reported) if relative else tolerance
    return HOLDS if abs(measured - reported) <= band + 1e-12 else FAILS


def compare(a_name: str, a: float, b_name: str, b: float, tolerance: float, *, relative: bool = False,
            unit: str = "", lower_is_better: bool = False, fmt=None) -> tuple[str, str]:
    """The verdict on "A beats B" and the words behind it: holds / does not hold, or too close to call when
    |a - b| is within ``tolerance`` (of the larger, when ``relative``). ``fmt`` shows a value (default 4
    significant digits and ``unit``)."""
    fmt = fmt or (lambda value: f"{value:.4g}{unit}")
    difference = abs(a - b)
    band = tolerance * max(abs(a), abs(b)) if relative else tolerance
    shown = f"{tolerance:.0%} of the larger" if relative else fmt(tolerance)
    if difference <= band + 1e-12:  # float noise: 0.43 - 0.42 is a hair above 0.01
        return TOO_CLOSE, (f"{a_name} {fmt(a)} vs {b_name} {fmt(b)}: too close to call (difference "
                           f"{fmt(difference)}, tolerance {shown})")
    better = a < b if lower_is_better else a > b
    return (HOLDS if better else FAILS), f"{a_name} {fmt(a)} vs {b_name} {fmt(b)}"


def points(a: float, b: float, digits: int = 1) -> str:
    """'2.3 points' for the accuracy difference b - a (in percentage points, unsigned)."""
    return f"{abs(b - a) * 100:.{digits}f} points"


def first_epoch(history: list[dict], condition) -> dict | None:
    """The first epoch's record of ``history`` for which ``condition(record)`` holds, else None."""
    return next((h for h in history if condition(h)), None)


def learned(curve: list[tuple[int, float]], classes: int = 0, near: float = 0.01) -> bool:
    """Whether a training-loss curve [(epoch, value), ...] shows learning: False when it ended at the loss of a
    uniform guess over ``classes`` (within ``near`` of ln classes), or, where the classes are not known (0), no
    lower than after its first epoch. ReLU + He ended at ln 10, its units all dead, whether it got there at once or
    after 220 epochs."""
    if len(curve) < 2:
        return True  # one epoch says nothing of where the curve goes
    final = curve[-1][1]
    if classes > 1:
        return not near_chance(final, classes, near)
    return final < curve[0][1]


def epochs_to_reach(history: list[dict], loss: float, curve: str = "train_loss") -> int | None:
    """The first epoch whose ``curve`` value is at or below ``loss``."""
    reached = first_epoch(history, lambda h: h.get(curve) is not None and h[curve] <= loss)
    return None if reached is None else reached["epoch"]


def watched_spread(history: list[dict], last: int = 100) -> str:
    """'; over the last 100 epochs the watched test accuracy ran from 0.8969 to 0.9102 (mean 0.9050)'
    -- how much one last epoch can differ from the next; empty without a watched test curve."""
    window = history[-last:]
    values = [h["test_acc"] for h in window if "test_acc" in h]
    if len(values) < 2:
        return ""
    after = "each" if len(values) == len(window) else f"{len(values)} of them"  # a long run's sparser test curve
    return (f"; over the last {len(window)} epochs the test accuracy measured after {after} for the plot (nothing "
            f"chosen on it) ran from {min(values):.4f} to {max(values):.4f} (mean {np.mean(values):.4f})")


def at_chance(history: list[dict], n_classes: int, within: float = 0.01) -> str:
    """A clause naming a network that has stopped learning: its training loss ends within ``within`` of
    ln(n_classes), the cross-entropy of a uniform guess (ln 10 = 2.3026); else an empty string."""
    losses = [h.get("train_loss") for h in history]
    if not losses or not isinstance(losses[-1], (int, float)) or not near_chance(losses[-1], n_classes, within):
        return ""
    since = len(history)
    while since > 1 and isinstance(losses[since - 2], (int, float)) and near_chance(losses[since - 2], n_classes,
                                                                                    within):
        since -= 1
    return (f"; from epoch {history[since - 1]['epoch']} on its training loss stayed within {within} of "
            f"ln {n_classes} = {math.log(n_classes):.4f}, the loss of a uniform guess: the network stopped learning")


def near_chance(loss: float, n_classes: int, within: float = 0.01) -> bool:
    """Whether a cross-entropy ``loss`` is within ``within`` of ln(n_classes), a uniform guess's."""
    return abs(loss - math.log(n_classes)) <= within


# ----------------------------------------------------------------------------- the kinds

Judge = Callable[[Claim, "RunBook"], tuple[str, str, str]]  # -> (verdict, numbers, source)


@dataclass(frozen=True)
class Kind:
    name: str
    holds_when: str  # one sentence: when the verdict is "holds"
    required: dict[str, str]  # field: type (a key of TYPES)
    optional: dict[str, tuple[str, object]]  # field: (type, default)
    judge: Judge
    runs: tuple[str, ...] = ("run",)  # the fields that name runs
    check: Callable[[dict], tuple[str, str] | None] | None = None  # fields -> (field, problem) beyond their types


def _views(claim: Claim, book: RunBook, *names: str) -> list[RunView]:
    views = [book.view(claim.fields[name]) for name in names]
    for view in views:
        if view.why:
            raise Unmeasured(view.why)
    return views


def _judge_figure(claim: Claim, book: RunBook) -> tuple[str, str, str]:
    f = claim.fields
    (view,) = _views(claim, book, "run")
    value, metric = view.measure(f["metric"], claim.scoring), f["metric"]
    verdict = near(value, f["value"], f["tolerance"], f["relative"])
    difference = _shown(metric, abs(value - f["value"]))
    side = "above" if value > f["value"] else "below"
    same = difference == _shown(metric, 0.0)
    tolerance = f"{f['tolerance'] * 100:g}%" if f["relative"] else _shown(metric, f["tolerance"])
    numbers = f"rerun {_shown(metric, value)} " + ("(the report's figure, to the digits shown)" if same else
                                                   f"({difference} {side} the report's; tolerance {tolerance})")
    rescored = claim.scoring != "argmax" and parse_metric(metric)[0] in SCORED_METRICS
    if rescored:  # the per-epoch figures below are argmax's
        return verdict, f"{numbers}; its predictions scored as the report's ({claim.scoring}: see the notes)", \
            view.label
    history = view.history
    if metric == "accuracy":
        numbers += watched_spread(history)
        if value > f["value"] + f["tolerance"]:
            reached = first_epoch(history, lambda h: h.get("test_acc", -1.0) >= f["value"])
            if reached is not None:
                numbers += f"; the test accuracy measured for the plot first reached {f['value']:.4f} after epoch " \
                           f"{reached['epoch']}"
        if view.row is not None:
            numbers += at_chance(history, 10)
    if metric == "final_train_loss" and history:
        numbers = f"rerun {value:.4f} after epoch {history[-1]['epoch']}"
        if verdict != HOLDS:
            reached = first_epoch(history, lambda h: abs(h["train_loss"] - f["value"]) <= f["tolerance"])
            if reached is not None:
                numbers += (f"; its training loss was within {f['tolerance']:g} of the reported value at epoch "
                            f"{reached['epoch']}" + (f" (test accuracy then {reached['test_acc']:.4f})"
                                                     if "test_acc" in reached else ""))
    return verdict, numbers, view.label


def _pair_names(fields_: dict, a: RunView, b: RunView) -> tuple[str, str]:
    """How a two-run claim names its runs: its a_label / b_label, else the run's name, else its part."""
    return (fields_["a_label"] or a.ref.name or a.ref.part, fields_["b_label"] or b.ref.name or b.ref.part)


ABLATION = "ablation"  # make ablation's folder inside its part's: reports/part5/ablation/<variant>/
ABLATION_TOLERANCE = 0.01  # ablation: a change in accuracy within one percentage point is too close to call
OVERFIT_RISE = 0.05  # ablation with `overfitting`: a held-out loss ending 5 % above its lowest is a run that overfits
ABLATION_CHANGES = {"none": "ImprovedCNN as it is", "no-batchnorm": "without batch normalization",
                    "no-dropout": "without dropout", "no-third-block": "without the third convolution block"}


def read_ablation(folder: Path) -> dict[str, dict]:
    """{variant: its ImprovedCNN record} of a `make ablation` folder (reports/part5/ablation/)."""
    from common.errors import UserError
    from common.experiments.record import read_record

    records = {}
    for variant in ABLATION_CHANGES:
        path = folder / variant / "improved" / "metrics.json"
        try:
            if path.is_file():
                records[variant] = read_record(path)
        except UserError:  # unreadable: left out (the ablation statements need comparable runs only)
            continue
    return records



def why_not_compared(record: dict, variant: str, full: dict) -> str:
    """Why make ablation's run of ``variant`` cannot be set beside ImprovedCNN as it is (``full``, the "none"
    run); '' when it can: complete, of the full model's recipe, and with its config but for the ablation."""
    changes = record.get("recipe_changes")
    if isinstance(changes, dict):  # the ablation itself is the one change the comparison is about
        changes = {k: v for k, v in changes.items() if k != "ablation"}
    why = why_not_judged({**record, "recipe_changes": changes}, f"ablation's {variant}", full.get("recipe"))
    if why:
        return why + " (make ablation continues it)"
    settings = _flat(full.get("config") or {})
    differ = [key for key, value in _flat(record.get("config") or {}).items()
              if key != "ablation" and settings.get(key) != value]
    if differ:  # e.g. the recipe changed between two make ablation runs
        return (f"not measured: the ablation's {variant} run and its full model's differ in more than the ablation "
                f"({', '.join(differ)}); run make ablation ARGS=--force")
    return ""


def _judge_ablation(claim: Claim, book: RunBook) -> tuple[str, str, str]:
    """Removing `removes` from ImprovedCNN costs accuracy, in `make ablation`'s runs of one recipe."""
    f = claim.fields
    folder = book.reports / claim.part / ABLATION
    shown = book.shown(folder)
    records = read_ablation(folder)
    missing = [v for v in ("none", f["removes"]) if v not in records]
    if missing:
        raise Unmeasured(f"not measured: make ablation has not run its variant {missing[0]!r} "
                         f"({ABLATION_CHANGES[missing[0]]}; {shown}/{missing[0]}/)")
    full, removed = records["none"], records[f["removes"]]
    why = why_not_compared(full, "none", full) or why_not_compared(removed, f["removes"], full)
    if why:
        raise Unmeasured(why)
    key = "validation" if "validation" in full and "validation" in removed else "test"
    verdict, words = compare("ImprovedCNN", full[key]["accuracy"], ABLATION_CHANGES[f["removes"]],
                             removed[key]["accuracy"], f["tolerance"])
    numbers = (f"{key} accuracy: {words}; test accuracy {full['test']['accuracy']:.4f} -> "
               f"{removed['test']['accuracy']:.4f}; {full['epochs_run']} epochs each, "
               f"{removed['parameters']:,} parameters against {full['parameters']:,}")
    recipe = full.get("recipe") or "?"
    recipe = f"{recipe}'s recipe" if recipe.startswith("report ") else f"this suite's {recipe} recipe"
    if f["overfitting"]:
        curve = "val_loss" if key == "validation" else "test_loss"
        runs = (("ImprovedCNN as it is", full), (ABLATION_CHANGES[f["removes"]], removed))
        rises = {name: _loss_rise(record, curve) for name, record in runs}
        if any(rise is None for rise in rises.values()):
            raise Unmeasured(f"not measured: the claim is about overfitting, and a run of make ablation has no "
                             f"{curve} curve to show it")
        said = "; ".join(f"{name}: {words}" for name, (_, words) in rises.items())
        if not any(overfits for overfits, _ in rises.values()):
            raise Unmeasured(f"not measured: the claim is about overfitting, and neither run overfits in {recipe} "
                             f"(a run overfits when its {curve} ends over {OVERFIT_RISE:.0%} above its lowest; "
                             f"{said}), so they cannot show what the change does against it (measured in passing, "
                             f"{numbers})")
        numbers += f"; {said}"
    return verdict, numbers, f"{recipe}, one change removed (make ablation: {shown})"


def _loss_rise(record: dict, curve: str) -> tuple[bool, str] | None:
    """Whether a run overfits: its held-out loss ``curve`` ends more than OVERFIT_RISE above its lowest; with the
    numbers that say so, in words. None without that curve."""
    points = curve_points(record.get("history", []), curve)
    if not points:
        return None
    (low_epoch, low), (last_epoch, last) = lowest_and_last(points)
    return last > low * (1 + OVERFIT_RISE), (f"lowest at epoch {low_epoch} of {last_epoch} ({low:.3f}), ends at "
                                              f"{last:.3f} ({last / low - 1:+.1%})")


# The metrics a claim may compare after a given epoch, and the history curve each is read from then.
EPOCH_CURVES = {"accuracy": "test_acc", "final_train_loss": "train_loss", "final_test_loss": "test_loss"}


def at_epoch(view: RunView, curve: str, epoch: int, window: int = 1) -> float:
    """The value of ``view``'s ``curve`` after ``epoch``; with ``window`` > 1, its mean over the ``window`` epochs
    that end there (one epoch's value of a noisy curve says less than their mean)."""
    points = dict(view.curve(curve))
    missing = [e for e in range(epoch - window + 1, epoch + 1) if e not in points]
    if missing:
        raise Unmeasured(f"not measured: {view.ref.text} recorded no {CURVES[curve]} after epoch {missing[0]} (it "
                         f"recorded it after {len(points)} epochs, from {min(points)} to {max(points)})")
    return float(np.mean([points[e] for e in range(epoch - window + 1, epoch + 1)]))


def _check_beats(fields_: dict) -> tuple[str, str] | None:
    if fields_["epoch"] is not None and parse_metric(fields_["metric"])[0] not in EPOCH_CURVES:
        return "epoch", f"compares the runs' curves after that epoch, so the metric is one of {', '.join(EPOCH_CURVES)}"
    if fields_["window"] < 1 or (fields_["window"] > 1 and (fields_["epoch"] or 0) < fields_["window"]):
        return "window", "the number of epochs, ending at `epoch`, whose mean is compared: at least 1, and with " \
                         "`epoch` at least as large"
    return None


def _judge_beats(claim: Claim, book: RunBook) -> tuple[str, str, str]:
    f = claim.fields
    a, b = _views(claim, book, "a", "b")
    name_a, name_b = _pair_names(f, a, b)
    shares = f["metric"] in (*ACTIVITY_METRICS, "loss_rises")  # shown as percentages, like the table's
    if f["epoch"] is None:
        value_a, value_b, what = a.measure(f["metric"]), b.measure(f["metric"]), metric_words(f["metric"])
    else:  # like with like: runs of different lengths, compared where both were
        curve = EPOCH_CURVES[parse_metric(f["metric"])[0]]
        value_a, value_b = at_epoch(a, curve, f["epoch"], f["window"]), at_epoch(b, curve, f["epoch"], f["window"])
        what = f"{CURVES[curve]} after epoch {f['epoch']}" if f["window"] == 1 else \
            f"{CURVES[curve]}, mean over epochs {f['epoch'] - f['window'] + 1}-{f['epoch']}"
    verdict, words = compare(name_a, value_a, name_b, value_b, f["tolerance"],
                             relative=f["relative"], lower_is_better=f["lower_is_better"],
                             fmt=(lambda value: _shown(f["metric"], value)) if shares else None)
    return verdict, f"{what}: {words}", _sources(a, b)


def _judge_chance(claim: Claim, book: RunBook) -> tuple[str, str, str]:
    f = claim.fields
    (view,) = _views(claim, book, "run")
    accuracy, loss = view.measure("accuracy"), view.measure("final_train_loss")
    chance, chance_loss = 1 / f["classes"], math.log(f["classes"])
    stuck = accuracy <= chance + f["accuracy_within"] and abs(loss - chance_loss) <= f["loss_within"]
    numbers = (f"rerun test accuracy {accuracy:.4f} (chance {chance:.4f}, within {f['accuracy_within']:g} counts), "
               f"final training loss {loss:.4f} (ln {f['classes']} = {chance_loss:.4f}, within {f['loss_within']:g} "
               f"counts)")
    matrix = ((view.record or {}).get("test") or {}).get("confusion_matrix")
    if matrix:
        predicted = int(np.count_nonzero(np.array(matrix).sum(axis=0)))
        numbers += f", {predicted} of {len(matrix)} classes predicted"
    return (HOLDS if stuck else FAILS), numbers, view.label


def _peak(claim: Claim, view: RunView) -> tuple[int, float]:
    f = claim.fields
    points_ = view.curve(f["curve"])
    pick = min if f["lowest"] else max
    epoch, value = pick(points_, key=lambda p: p[1])
    return epoch, value


def _judge_peak(claim: Claim, book: RunBook) -> tuple[str, str, str]:
    f = claim.fields
    (view,) = _views(claim, book, "run")
    epoch, value = _peak(claim, view)
    verdict = near(value, f["value"], f["tolerance"])
    if f["epoch"] is not None and f["epoch_within"] is not None and abs(epoch - f["epoch"]) > f["epoch_within"]:
        verdict = FAILS
    word = "lowest" if f["lowest"] else "highest"
    reported = f" (reported {f['value']:.4g}" + (f" at epoch {f['epoch']}" if f["epoch"] is not None else "") + ")"
    epochs = "" if f["epoch_within"] is None else f"; the epoch counts within {f['epoch_within']}"
    return verdict, (f"the rerun's {CURVES[f['curve']]} is {word} at {value:.4f} in epoch {epoch}{reported}, "
                     f"tolerance {f['tolerance']:g}{epochs}"), view.label


def _judge_turns(claim: Claim, book: RunBook) -> tuple[str, str, str]:
    f = claim.fields
    (view,) = _views(claim, book, "run")
    (low_epoch, low), (last_epoch, last) = lowest_and_last(view.curve(f["curve"]))
    turned = low_epoch <= f["by_epoch"] and last >= f["rise"] * low
    return (HOLDS if turned else FAILS), (
        f"{CURVES[f['curve']]} lowest ({low:.3f}) in epoch {low_epoch}, {last:.3f} after epoch {last_epoch}: "
        f"it holds when the lowest point comes by epoch {f['by_epoch']} and the curve ends at {f['rise']:g}x it or "
        f"more"), view.label


def _judge_fewer_parameters(claim: Claim, book: RunBook) -> tuple[str, str, str]:
    f = claim.fields
    a, b = _views(claim, book, "a", "b")
    pa, pb = a.measure("parameters"), b.measure("parameters")
    names = _pair_names(f, a, b)
    words = f"{names[0]} {pa:,.0f} vs {names[1]} {pb:,.0f} parameters"
    try:
        acc_a, acc_b = a.measure("accuracy"), b.measure("accuracy")
        words += f" (test accuracy {acc_a:.4f} vs {acc_b:.4f})"
    except Unmeasured:
        pass
    return (HOLDS if pa < pb else FAILS), words, _sources(a, b)


def _judge_weight_sharing(claim: Claim, book: RunBook) -> tuple[str, str, str]:
    from common.cnn.models import DISPLAY_NAMES, build_model, count_parameters, dense_equivalent_parameters
    ref = parse_ref(claim.fields["run"])
    if ref.part != "part5" or ref.name not in DISPLAY_NAMES:
        raise Unmeasured(f"not measured: {ref.text} is not one of Part 5's models ({', '.join(DISPLAY_NAMES)})")
    model = build_model(ref.name)
    rows = dense_equivalent_parameters(model)
    shared, dense = count_parameters(model), sum(r["dense"] for r in rows)
    first = rows[0]
    return (HOLDS if shared < dense else FAILS), (
        f"{DISPLAY_NAMES[ref.name]} {shared:,} parameters; fully connected layers of the same sizes would need "
        f"{dense:,} ({dense / shared:,.0f}x): its first layer alone maps {first['inputs']:,} input values to "
        f"{first['outputs']:,} outputs with {first['parameters']:,} parameters, where a fully connected layer needs "
        f"{first['dense']:,}"), "the architecture (common/cnn/models.py), the same in every run"


def _classes(view: RunView) -> int:
    """How many classes the run's task has (0 when its record does not say)."""
    return len((view.part_record or view.record or {}).get("classes") or [])


def _judge_faster(claim: Claim, book: RunBook) -> tuple[str, str, str]:
    f = claim.fields
    a, b = _views(claim, book, "a", "b")
    if not f["curve"].endswith("_loss"):
        raise Unmeasured(f"not measured: 'faster' counts the epochs to reach a loss; {CURVES[f['curve']]} is not one")
    ca, cb = a.curve(f["curve"]), b.curve(f["curve"])
    names = _pair_names(f, a, b)
    stuck = [i for i, (view, curve) in enumerate(((a, ca), (b, cb)))
             if f["curve"] == "train_loss" and not learned(curve, _classes(view))]
    if stuck:  # a speed to a level that a run never left (or fell back to) compares nothing
        why = " and ".join(f"{names[i]} ended at {CURVES[f['curve']]} {curve[-1][1]:.4f} (after its first epoch: "
                           f"{curve[0][1]:.4f}): it did not learn" for i, curve in enumerate((ca, cb)) if i in stuck)
        if len(stuck) == 2:
            raise Unmeasured(f"not measured: {why}")
        return (FAILS if stuck == [0] else HOLDS), why, _sources(a, b)
    target = f["loss"] if f["loss"] is not None else max(ca[-1][1], cb[-1][1])
    ea, eb = epochs_to_reach(a.history, target, f["curve"]), epochs_to_reach(b.history, target, f["curve"])
    if ea is None or eb is None:
        never = names[0] if ea is None else names[1]
        verdict = FAILS if ea is None else HOLDS
        return verdict, f"{never} never reached {CURVES[f['curve']]} {target:.4f}", _sources(a, b)
    verdict, words = compare(names[0], ea, names[1], eb, f["tolerance"], relative=True, unit=" epochs",
                             lower_is_better=True)
    basis = "the higher of the two final values" if f["loss"] is None else "the report's"
    return verdict, f"epochs to reach {CURVES[f['curve']]} {target:.4f} ({basis}): {words}", _sources(a, b)


def _judge_confusion(claim: Claim, book: RunBook) -> tuple[str, str, str]:
    f = claim.fields
    (view,) = _views(claim, book, "run")
    test = (view.record or {}).get("test") or {}
    if "confusion_matrix" not in test:
        raise Unmeasured(f"not measured: {view.ref.text} recorded no confusion matrix")
    rerun, reported = np.array(test["confusion_matrix"]), np.array(f["matrix"])
    if rerun.shape != reported.shape:
        raise Unmeasured(f"not measured: the rerun's matrix is {rerun.shape}, the report's {reported.shape}")
    names = list(test.get("per_class") or CLASS_NAMES)
    diff = rerun - reported
    order = np.dstack(np.unravel_index(np.argsort(-np.abs(diff), axis=None), diff.shape))[0][:3]
    worst = "; ".join(f"{names[i]} taken for {names[j]} {rerun[i, j]} vs {reported[i, j]}" for i, j in order)
    by_class = np.abs(diff).sum(axis=1)
    classes = ", ".join(f"{names[i]} ({by_class[i]})" for i in np.argsort(-by_class)[:3])
    verdict = HOLDS if np.abs(diff).max() <= f["tolerance"] else FAILS
    return verdict, (f"largest cell differences: {worst}; the rows that differ most (images moved): {classes}; "
                     f"mean |difference| {np.abs(diff).mean():.1f} images a cell, tolerance {f['tolerance']} a "
                     f"cell"), view.label


def _judge_spread(claim: Claim, book: RunBook) -> tuple[str, str, str]:
    f = claim.fields
    (view,) = _views(claim, book, "run")
    values, missing, stopped = {}, [], {}
    for seed in f["seeds"]:
        own_seed = (view.row or view.record or {}).get("seed")
        seed_view = view if seed == own_seed else book.seed_view(view, seed)
        if seed_view is None or seed_view.why:
            missing.append(seed)
        else:
            values[seed] = seed_view.measure(f["metric"])
            stopped[seed] = at_chance(seed_view.history, 10) if seed_view.row is not None else ""
    if missing:
        raise Unmeasured(f"not measured: seeds {missing} of {view.ref.text} have not run complete (make reproduce "
                         f"REPORT={book.report_id} runs the report file's variants: make {view.ref.part} "
                         f"ARGS=\"--report {book.report_id} --variant NAME\")")
    low, high = min(values.values()), max(values.values())
    inside = low - f["tolerance"] <= f["value"] <= high + f["tolerance"]
    shown = ", ".join(f"seed {s}: {v:.4f}" for s, v in values.items())
    died = [s for s, clause in stopped.items() if clause]
    if died:
        shown += (f"; {len(died)} of {len(values)} seeds stopped learning (training loss at ln 10 to the end: seed "
                  f"{', '.join(map(str, died))})")
    return (HOLDS if inside else FAILS), (f"{metric_words(f['metric'])} over {len(values)} seeds: {shown} (mean "
                                          f"{np.mean(list(values.values())):.4f}, std "
                                          f"{np.std(list(values.values())):.4f}); the report's {f['value']:.4f} "
                                          f"{'lies' if inside else 'does not lie'} within their range +- "
                                          f"{f['tolerance']:g}"), view.label


def _judge_exceeds(claim: Claim, book: RunBook) -> tuple[str, str, str]:
    f = claim.fields
    (view,) = _views(claim, book, "run")
    value = view.measure(f["metric"])
    holds = value < f["value"] if f["below"] else value > f["value"]
    side = "below" if f["below"] else "above"
    return (HOLDS if holds else FAILS), (f"{metric_words(f['metric'])}: {_shown(f['metric'], value)}; the claim "
                                         f"holds {side} {_shown(f['metric'], f['value'])}"), view.label


def _judge_time_ratio(claim: Claim, book: RunBook) -> tuple[str, str, str]:
    f = claim.fields
    a, b = _views(claim, book, "a", "b")
    ta, tb = a.measure("train_seconds"), b.measure("train_seconds")
    ratio = ta / tb if tb else float("inf")
    verdict = near(ratio, f["ratio"], f["tolerance"], relative=True)
    return verdict, (f"{a.ref.text} {_shown('train_seconds', ta)} / {b.ref.text} {_shown('train_seconds', tb)} = "
                     f"{ratio:.2f}x (reported {f['ratio']:g}x, "
                     f"within {f['tolerance']:.0%} counts)"), _sources(a, b)


def _sources(*views: RunView) -> str:
    return "; ".join(dict.fromkeys(v.label for v in views))


_PAIR = {"a": "run", "b": "run"}
_LABELS = {"a_label": ("str", ""), "b_label": ("str", "")}
KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("figure", "the rerun's metric is within `tolerance` of `value` (of |value| x tolerance when `relative`)",
         {"run": "run", "metric": "metric", "value": "number"},
         {"tolerance": ("number", 0.01), "relative": ("bool", False)}, _judge_figure),
    Kind("beats", "run `a` beats run `b` on `metric` (lower wins with `lower_is_better`), at their reported epochs "
                  "or, with `epoch`, on their curves after that epoch (the mean over the `window` epochs ending "
                  "there); a difference within `tolerance` is too close to call",
         _PAIR | {"metric": "metric"},
         {"tolerance": ("number", 0.01), "relative": ("bool", False), "lower_is_better": ("bool", False),
          "epoch": ("int", None), "window": ("int", 1), **_LABELS},
         _judge_beats, ("a", "b"), _check_beats),
    Kind("chance", "the run ends at chance: test accuracy within `accuracy_within` of 1/`classes` and final training "
                   "loss within `loss_within` of ln(`classes`)",
         {"run": "run"}, {"classes": ("int", 10), "accuracy_within": ("number", 0.05),
                          "loss_within": ("number", 0.1)}, _judge_chance),
    Kind("peak", "the curve's highest point (lowest with `lowest`) is within `tolerance` of `value`, and, when "
                 "`epoch_within` is given, its epoch within that many epochs of `epoch`",
         {"run": "run", "curve": "curve", "value": "number"},
         {"epoch": ("int", None), "epoch_within": ("int", None), "tolerance": ("number", 0.01),
          "lowest": ("bool", False)}, _judge_peak),
    Kind("turns", "the curve (a loss) is lowest at or before epoch `by_epoch` and ends at `rise` times that or more: "
                  "it turned, the run overfits",
         {"run": "run", "curve": "curve", "by_epoch": "int"}, {"rise": ("number", 2.0)}, _judge_turns),
    Kind("fewer_parameters", "run `a` has fewer trainable parameters than run `b`",
         dict(_PAIR), dict(_LABELS), _judge_fewer_parameters, ("a", "b")),
    Kind("weight_sharing", "the CNN model `run` has fewer parameters than fully connected layers mapping the same "
                           "input values to the same outputs would need (weight sharing); judged from its "
                           "architecture, which no run changes",
         {"run": "run"}, {}, _judge_weight_sharing),
    Kind("faster", "run `a` reaches `loss` on `curve` in fewer epochs than run `b` (default loss: the higher of "
                   "their final values); within `tolerance` (relative) too close to call",
         dict(_PAIR), {"curve": ("curve", "train_loss"), "loss": ("number", None), "tolerance": ("number", 0.10),
                       **_LABELS}, _judge_faster, ("a", "b")),
    Kind("confusion", "every cell of the run's test confusion matrix is within `tolerance` images of the report's "
                      "`matrix` (rows: true class, columns: predicted)",
         {"run": "run", "matrix": "matrix"}, {"tolerance": ("int", 50)}, _judge_confusion),
    Kind("spread", "the report's `value` lies within the range of `metric` over the run's `seeds` (+- `tolerance`)",
         {"run": "run", "metric": "metric", "value": "number", "seeds": "ints"}, {"tolerance": ("number", 0.0)},
         _judge_spread),
    Kind("exceeds", "the run's `metric` is above `value` (below it with `below`): the threshold the report's words "
                    "are read as, written in the claim",
         {"run": "run", "metric": "metric", "value": "number"}, {"below": ("bool", False)}, _judge_exceeds),
    Kind("ablation", f"ImprovedCNN without `removes` ({', '.join(v for v in ABLATION_CHANGES if v != 'none')}) "
                     "is less accurate than ImprovedCNN as it is, in make ablation's runs (one recipe, the one change "
                     "apart; validation accuracy where they have a validation split); a difference within "
                     "`tolerance` is too close to call. With `overfitting` (a claim about overfitting) it is judged "
                     f"only where one of the two runs overfits: its held-out loss (validation, else test) ends over "
                     f"{OVERFIT_RISE:.0%} above its lowest",
         {"removes": "ablation"}, {"tolerance": ("number", ABLATION_TOLERANCE), "overfitting": ("bool", False)},
         _judge_ablation, ()),
    Kind("time_ratio", "run `a`'s training time over run `b`'s is within `tolerance` (relative) of `ratio`",
         _PAIR | {"ratio": "number"}, {"tolerance": ("number", 0.5)}, _judge_time_ratio, ("a", "b")),
)}


def check_fields(kind: str, entry: dict, fail, part: str) -> dict:
    """The claim's fields, checked against its kind and with defaults filled in; ``fail(key, problem)``
    builds the error raised for the first problem."""
    spec = KINDS[kind]
    known = {**spec.required, **{k: t for k, (t, _) in spec.optional.items()}}
    for key in entry:
        if key not in known:
            raise fail(key, f"unknown field of a {kind!r} claim; it takes {', '.join(known)} (besides section, "
                            f"says, note, garbled, not_compared)")
    out = {}
    for key, type_name in known.items():
        if key not in entry:
            if key in spec.required:
                raise fail(key, f"missing; a {kind!r} claim needs {', '.join(spec.required)}")
            out[key] = spec.optional[key][1]
            continue
        value = entry[key]
        if type_name == "str":
            if not isinstance(value, str):
                raise fail(key, f"expected a string, got {value!r}")
            out[key] = value
            continue
        try:
            out[key] = TYPES[type_name](value)
        except (ValueError, TypeError) as error:
            raise fail(key, str(error) if isinstance(error, ValueError) else f"expected {type_name}, got {value!r}") \
                from None
    problem = spec.check(out) if spec.check else None
    if problem:
        raise fail(*problem)
    return out


def _time_as_ratio(claim: Claim, book: RunBook) -> str:
    """For a training time the report gives (never compared across machines): how many times faster the rerun
    trained here, where it has run; else ''."""
    if claim.kind != "figure" or claim.fields.get("metric") != "train_seconds":
        return ""
    try:
        view = book.view(claim.fields["run"])
        seconds = view.measure("train_seconds") if not view.why else None
    except Exception:  # a time is context here, never a reason for the verdict to fail
        return ""
    if not seconds:
        return ""
    reported = claim.fields["value"]
    return (f"; as a ratio only: the rerun trained in {_shown('train_seconds', seconds)} here; the report's "
            f"{_shown('train_seconds', reported)} is {reported / seconds:.3g} times that")


def judge(claim: Claim, book: RunBook) -> Verdict:
    """The verdict on one claim from the runs ``book`` finds."""
    if claim.not_compared:
        return Verdict(claim, NOT_MEASURED, f"not compared: {claim.not_compared}{_time_as_ratio(claim, book)}")
    try:
        verdict, numbers, source = KINDS[claim.kind].judge(claim, book)
    except Unmeasured as why:
        return Verdict(claim, NOT_MEASURED, str(why))
    except Exception as error:  # a record of an unexpected shape: this claim says so, the others are judged
        return Verdict(claim, NOT_MEASURED, f"not measured: the saved runs could not be read for this claim "
                                            f"({type(error).__name__}: {error})")
    if claim.note:
        numbers += f" ({claim.note})"
    return Verdict(claim, verdict, numbers, source)


def referenced_runs(claim: Claim) -> list[RunRef]:
    return [parse_ref(claim.fields[name]) for name in KINDS[claim.kind].runs]
