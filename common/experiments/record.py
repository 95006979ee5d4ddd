"""What a run is given besides its config (``RunOptions``) and what it records: ``metrics.json``
(its schema is ``SCHEMA`` below, rendered into reports/README.md), ``summary.md`` and its figures.

``run_record`` builds the part every metrics.json shares (part, recipe, status, config, seed,
timing, versions, device, commit, data); each pipeline adds its own sections and hands the whole
to ``write_run_report``, which refuses a record that lacks a required key. ``read_record`` is the
reader's side: a missing key is an error that names the file and the key, never a silent dash.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np

from common.catalog import PARTS
from common.data.cifar10 import OFFICIAL_SIZE, data_fingerprint, first_load_seconds
from common.errors import UserError
from common.files import (
    atomic_write_json,
    atomic_write_text,
    files_of_other_runs,
    run_id_of,
    stamp_markdown,
    to_jsonable,
)
from common.nn.training import STATUS_COMPLETE
from common.paths import PROJECT_ROOT


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How to run, not what: nothing here changes a result (the config does that)."""

    out: Path  # the report folder
    part: str = ""  # the part the run is of (parts/<part>.py): its title and catalog entry
    data: str | None = None  # CIFAR-10 source; None: the usual search (common/data/cifar10.py, SOURCE_ORDER)
    progress: bool = True  # progress bars (else a log line per epoch)
    resume: bool = False  # continue an interrupted run of the same config; keep a complete one
    estimate: bool = False  # only say what would run and how long it would take
    workers: int = 1  # processes for runs that are independent of each other (Part 4)
    figures: bool = True  # draw the figures (off: the record and arrays only, e.g. make ablation's variants)
    # The recipe's own config before any flag (Part 5: one per model). The record lists every
    # result-changing setting in which the run differs from it (``recipe_changes``); None: no recipe named.
    recipe_config: object = None


log = logging.getLogger("cifar")
SCHEMA_VERSION = 3
# key: (JSON type, meaning). Required in every metrics.json a part writes.
SCHEMA: dict[str, tuple[str, str]] = {
    "schema": ("int", f"layout version ({SCHEMA_VERSION})"),
    "part": ("str", "part1 ... part5"),
    "title": ("str", "heading of the report"),
    "recipe": ("str", "tuned or quick (this suite's), or 'report <id>' (a report's, from "
                      "student_reports/<id>.toml): where the config's values came from"),
    "recipe_changes": ("object|null", "{setting: {recipe: value, run: value}} for every result-changing setting in "
                                      "which the run differs from its recipe ({} = the recipe exactly; null = no "
                                      "recipe named). A verdict comes only from a complete run with none"),
    "run_id": ("str", "this run's id, also stamped into every file it writes (arrays, figures, summary.md): a "
                      "file with another id belongs to another run"),
    "status": ("str", "complete, incomplete (interrupted) or diverged"),
    "status_note": ("str", "what happened, when not complete; else empty"),
    "config": ("object", "every setting of the run: the config dataclass, whole"),
    "seed": ("int", "random seed (initialization, shuffling, split)"),
    "parameters": ("int", "trainable parameters of the reported model"),
    "test": ("object", "test figures: accuracy, balanced_accuracy, macro_f1, per_class {class: precision, recall, "
                       "f1, support}, confusion_matrix [[int]] (rows true, columns predicted); binary parts add "
                       "roc_auc, average_precision (airplane as the positive class), f1_<class>, threshold; "
                       "part5 adds loss"),
    "history": ("list", "per epoch: epoch, train_loss, train_acc, val_loss and val_acc (with a validation split), "
                        "test_loss and test_acc (when the test set is watched for the curves: after each of the "
                        "first 100 epochs, then more sparsely; common.nn.training.measures_test), lr, seconds"),
    "best_epoch": ("int", "the epoch whose parameters are reported (the last one without a validation split)"),
    "epochs_run": ("int", "epochs trained"),
    "timing": ("object", "train_seconds (training loop), total_seconds (the whole command)"),
    "throughput": ("object", "train_images_per_second"),
    "figures": ("object", "{file: caption} of the figures drawn (from the saved files, after the run or by make "
                          "report)"),
    "figures_skipped": ("object", "{file: why it was not drawn}"),
    "environment": ("object", "python, numpy, torch, platform, processor, cpu_count, device, device_name (GPUs)"),
    "git_commit": ("str|null", "commit of the code that ran; '-dirty' when the tree had uncommitted changes"),
    "data_source": ("str", "the CIFAR-10 source read"),
    "data_fingerprint": ("str", "hash of the decoded images and labels: the same images, the same hash"),
    "created": ("str", "when the run wrote its record (ISO 8601); drawing its figures later keeps it"),
}
# Keys a record of an older layout may lack (key: the version that added it): such a record is still read,
# and the analysis answers "not measured" for what it cannot tell without them.
ADDED_IN = {"recipe_changes": 3, "run_id": 3}
# Sections some parts add, documented with the same care (not required everywhere).
OPTIONAL_SCHEMA: dict[str, tuple[str, str]] = {
    "task": ("str", "binary (airplane vs rest) or multiclass"),
    "classes": ("list", "class names in label order"),
    "data_sizes": ("object", "MLP parts: train, validation and test images used"),
    "model": ("object/str", "MLP parts: sizes, activation, init; part5 model folders: the CNN's name"),
    "baseline": ("object", "binary parts: majority_class and majority_accuracy (always predicting it, on test)"),
    "test_at_threshold_0.5": ("object", "binary parts with a validation split: the test figures at 0.5 as well"),
    "validation": ("object", "with a validation split: best_loss, best_accuracy; binary parts accuracy_at_threshold; "
                             "part5 accuracy, loss, tta"),
    "headline": ("object", "part4: the run the part's test figures are of, and why"),
    "winner": ("object", "part4, tuned recipe: the best configuration by validation accuracy"),
    "ranking": ("list", "part4, tuned recipe: every configuration, best validation accuracy first"),
    "lr_sweep": ("list", "part4, tuned recipe: every learning-rate trial"),
    "seeds": ("list", "part4, tuned recipe: the top configurations over seeds (mean and std)"),
    "histories": ("object", "part4, tuned recipe: {'<configuration>, lr <lr>, seed <seed>': its history}, which "
                            "the curves are drawn from"),
    "scenarios": ("list", "part4, a recipe with fixed scenarios (a report's): one row per scenario with its history"),
    "models": ("object", "part5: both models side by side"),
    "headline_model": ("str", "part5: the model the part's test figures are of"),
    "checkpoint": ("str", "part5 model folders: the checkpoint file"),
    "segments": ("list", "part5 model folders: each stretch of epochs one process trained (first_epoch, last_epoch, "
                         "commit, precision, device); a resume with other code or precision is refused"),
    "recipe_note": ("str", "part5, a report's recipe: the report file's notes (what the recipe assumes where the "
                           "report is silent)"),
    "extra_tables": ("object", "{heading: markdown table} shown in summary.md and the report"),
}
# The keys of "test" (SCHEMA documents them in words; these are what a record may hold). Binary parts add
# f1_<class> for each of their two classes.
TEST_KEYS = {"accuracy", "balanced_accuracy", "macro_f1", "per_class", "confusion_matrix", "loss", "roc_auc",
             "average_precision", "threshold"}
BINARY_TEST_KEYS = {"roc_auc", "average_precision", "threshold"}


def undocumented_keys(record: dict) -> list[str]:
    """Keys a record holds that the schema does not document (top level and "test")."""
    top = [k for k in record if k not in SCHEMA and k not in OPTIONAL_SCHEMA]
    test = [f"test.{k}" for k in record.get("test", {}) if k not in TEST_KEYS and not k.startswith("f1_")]
    return top + test


def render_schema() -> str:
    """The schema as the markdown table in reports/README.md."""
    lines = ["| key | type | meaning |", "|---|---|---|"]
    lines += [f"| `{k}` | {t} | {m} |" for k, (t, m) in SCHEMA.items()]
    lines += ["", "Sections some parts add:", "", "| key | type | meaning |", "|---|---|---|"]
    lines += [f"| `{k}` | {t} | {m} |" for k, (t, m) in OPTIONAL_SCHEMA.items()]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- run facts

@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the code that ran (with '-dirty' when the tree has changes), or None.

    Cached: entry points ask at start-up, so a long run records the commit it started from.
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


def config_dict(config) -> dict:
    """A config dataclass (or a dict of them) as plain JSON values, as metrics.json stores it."""
    if dataclasses.is_dataclass(config):
        config = dataclasses.asdict(config)
    elif isinstance(config, dict):
        config = {k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for k, v in config.items()}
    return json.loads(json.dumps(to_jsonable(config)))


def with_defaults(saved: dict, config) -> dict:
    """A saved config dict with every setting it lacks filled in with the field's default: a setting added
    after the run was saved keeps, by default, what the code did before it existed, so an older record of
    the same settings still counts as the same config. Nested configs (Part 4's base) and per-model
    dicts (Part 5) are filled alike."""
    if isinstance(config, dict) and all(dataclasses.is_dataclass(v) for v in config.values()):
        return {k: with_defaults(saved.get(k, {}), v) if isinstance(saved.get(k, {}), dict) else saved.get(k)
                for k, v in config.items()} | {k: v for k, v in saved.items() if k not in config}
    if not dataclasses.is_dataclass(config) or not isinstance(saved, dict):
        return saved
    filled = dict(saved)
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.name not in filled and f.default is not dataclasses.MISSING:
            filled[f.name] = json.loads(json.dumps(to_jsonable(f.default)))
        elif dataclasses.is_dataclass(value) and isinstance(filled.get(f.name), dict):
            filled[f.name] = with_defaults(filled[f.name], value)
    return filled


def new_run_id() -> str:
    """A fresh id for one run: the time it started and a random suffix."""
    return f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"


def result_settings(config, prefix: str = "") -> dict[str, object]:
    """{setting: JSON value} of every setting of ``config`` that can change a result: each config
    dataclass declares the fields that cannot (``RESULT_NEUTRAL``, e.g. the recipe's name); nested
    configs (Part 4's ``base``) and per-model dicts (Part 5) give dotted names ("base.epochs")."""
    if dataclasses.is_dataclass(config):
        neutral = getattr(config, "RESULT_NEUTRAL", frozenset())
        settings = {}
        for f in dataclasses.fields(config):
            if f.name not in neutral:
                settings.update(result_settings(getattr(config, f.name), f"{prefix}{f.name}."))
        return settings
    if isinstance(config, dict) and config and all(dataclasses.is_dataclass(v) for v in config.values()):
        return {k: v for name, c in config.items() for k, v in result_settings(c, f"{prefix}{name}.").items()}
    return {prefix[:-1]: json.loads(json.dumps(to_jsonable(config)))}


def recipe_changes(recipe_config, config) -> dict[str, dict] | None:
    """{setting: {"recipe": its value, "run": the run's}} where ``config`` differs from ``recipe_config``
    in a setting that changes results; {} when it is the recipe exactly; None without a recipe."""
    if recipe_config is None:
        return None
    recipe, run = result_settings(recipe_config), result_settings(config)
    return {k: {"recipe": recipe.get(k), "run": run.get(k)} for k in sorted(set(recipe) | set(run))
            if recipe.get(k) != run.get(k)}


def changes_text(changes: dict[str, dict], short: bool = False) -> str:
    """'epochs 2 (recipe: 1000), train_subset 3000 (recipe: None)' -- a record's recipe_changes, for a reader;
    ``short``: 'epochs=2 train_subset=3000', a variant's folder name."""
    def name(key):
        return key.removeprefix("base.").replace(".", " ")
    if short:
        return " ".join(f"{name(k).replace(' ', '.')}={_short(v['run'])}" for k, v in changes.items())
    return ", ".join(f"{name(k)} {_readable(v['run'])} (recipe: {_readable(v['recipe'])})" for k, v in changes.items())


def _readable(value) -> str:
    """A setting's value for a reader: Part 4's scenarios as 'relu + momentum + he; tanh + sgd + xavier'."""
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, (list, tuple)) for v in value):
            return "; ".join(" + ".join(map(str, v)) or "none" for v in value)
        return f"({' '.join(map(str, value))})" if value else "none"
    return str(value)


def _short(value) -> str:
    if isinstance(value, (list, tuple)):
        return "+".join(_short(v) for v in value) or "none"
    return str(value)  # exact: 0.0100000001 is not the recipe's 0.01


def run_record(*, part: str, recipe: str, status: str, status_note: str, config, seed: int, device: str,
               data_source: str, data_fingerprint: str, run_id: str, recipe_config=None,
               title: str | None = None) -> dict:
    """The part of metrics.json every run shares; the pipeline adds test, history, timing and the rest.
    ``recipe_config``: the named recipe's own config, against which ``recipe_changes`` is taken."""
    return {"schema": SCHEMA_VERSION, "part": part, "title": title or PARTS[part].title, "recipe": recipe,
            "recipe_changes": recipe_changes(recipe_config, config), "run_id": run_id,
            "status": status, "status_note": status_note, "config": config_dict(config), "seed": seed,
            "environment": environment_info(device), "git_commit": git_commit(), "data_source": data_source,
            "data_fingerprint": data_fingerprint}


# ----------------------------------------------------------------------------- write and read

def missing_keys(record: dict) -> list[str]:
    """Required keys ``record`` lacks (for an older layout, those that layout already had)."""
    version = record.get("schema", SCHEMA_VERSION)
    version = version if isinstance(version, int) else SCHEMA_VERSION
    return [k for k in SCHEMA if k not in record and ADDED_IN.get(k, 0) <= version]


def write_run_report(out_dir: Path, metrics: dict, figures: dict | None = None,
                     skipped: dict[str, str] | None = None, captions: dict[str, str] | None = None,
                     started: float | None = None) -> dict:
    """Write figures ({file: matplotlib figure}), metrics.json and summary.md to ``out_dir``; return the
    record as written (plain JSON types, as ``read_record`` reads it).

    ``skipped`` names figures that could not be drawn and why; ``captions`` says what each shows;
    ``started`` (a time.perf_counter() reading) makes timing.total_seconds cover the figures too.
    """
    from common.render.figures import save_figure

    out_dir = Path(out_dir)
    captions = captions or {}
    for name, fig in (figures or {}).items():
        save_figure(fig, out_dir / name, run_id=metrics.get("run_id"))
    metrics = {**metrics, "figures": {name: captions.get(name, "") for name in figures or {}},
               "figures_skipped": dict(skipped or {}), "created": metrics.get("created") or now_iso()}
    if started is not None:
        metrics["timing"] = {**metrics["timing"], "total_seconds": time.perf_counter() - started}
    metrics.setdefault("schema", SCHEMA_VERSION)
    missing = missing_keys(metrics)
    if missing:
        raise ValueError(f"metrics.json for {out_dir} lacks {missing}: every run records the keys of SCHEMA")
    record = to_jsonable(metrics)  # exactly what read_record would give back
    atomic_write_json(out_dir / "metrics.json", record)  # after the arrays and figures: the run's commit point
    atomic_write_text(out_dir / "summary.md", stamp_markdown(render_summary(metrics), metrics.get("run_id")))
    remove_other_runs_files(out_dir, record.get("run_id"))
    return record


def remove_other_runs_files(folder: Path, run_id: str | None) -> list[str]:
    """Delete the files an earlier run left in ``folder`` (stamped with another id: figures this run did not
    draw, its analysis.md, ...), once this run's metrics.json is written; returns their names. Unstamped
    files (checkpoints, CSV, other tools' output) and subfolders are left alone."""
    if not run_id:
        return []
    removed = []
    for path in Path(folder).iterdir():
        if path.is_file() and path.suffix in (".png", ".npz", ".md") and run_id_of(path) not in (None, run_id):
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def read_record(path: Path) -> dict:
    """A saved metrics.json, checked against SCHEMA; UserError names the file and what is wrong."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise UserError(f"{path} cannot be read as JSON ({error}); rerun the part that wrote it.") from None
    missing = missing_keys(record)
    if missing:
        raise UserError(f"{path} lacks {', '.join(missing)}: it was written by an older version of the suite. "
                        f"Rerun the part that wrote it (or delete the folder).")
    return record


def _fingerprint_for(out: Path, run: RunOptions) -> str | None:
    """The fingerprint of the data ``run`` would read, from its cache's header. A source without a cache yet
    (new, or moved, copied or touched since) is loaded (and so cached) to find it, but only when ``out`` holds a
    record to compare it with: the run would load it next anyway."""
    fingerprint = data_fingerprint(run.data)
    if fingerprint is None and (Path(out) / "metrics.json").is_file():
        from common.data.cifar10 import load_cifar10
        fingerprint = load_cifar10(run.data, progress=run.progress).fingerprint
    return fingerprint


def keep_complete_run(out: Path, config, run: RunOptions) -> bool:
    """With --resume: True (and a log line saying so) when ``out`` already holds a complete run of this
    config on the data ``run`` would read, so there is nothing to train."""
    if not run.resume:
        return False
    done = completed_run(out, config, _fingerprint_for(out, run))
    if done is not None:
        log.info("%s already holds a complete run of this config on this data (commit %s, %s): kept as it is. "
                 "Run without --resume (make: ARGS=--force) to train again.", out, done["git_commit"], done["created"])
    return done is not None


def complete_record(folder: Path) -> dict | None:
    """The record in ``folder`` when it is a complete run's (of any config), else None."""
    path = Path(folder) / "metrics.json"
    if not path.is_file():
        return None
    try:
        record = read_record(path)
    except UserError:
        return None
    return record if record["status"] == STATUS_COMPLETE else None


def keeps_complete_record(out: Path, status: str, config) -> bool:
    """An interrupted run never replaces a complete one. True when ``status`` is incomplete and ``out`` holds a
    complete record (of any config): the caller then writes nothing there, and a log line says what was kept and
    how to go on."""
    record = None if status == STATUS_COMPLETE else complete_record(out)
    if record is None:
        return False
    same = with_defaults(record["config"], config) == config_dict(config)
    log.warning("interrupted: %s keeps the complete run it held (commit %s, %s) as it was; this run is not "
                "recorded. %s", out, record["git_commit"], record["created"],
                "Run again without --resume (make: ARGS=--force) to train it again." if same else
                "The same command with --resume continues it from its last checkpoint, where one was saved.")
    return True


def drawing_seconds(part: str, folders: tuple[str, ...] = ()) -> float:
    """Seconds to draw ``part``'s figures after training: matplotlib's start and one figure per entry of the
    catalog in the part's folder and in ``folders`` (Part 5: its models'), each timed here as a loss-curve figure of
    100 epochs rendered in memory (a middling one: the image grids take longer, the bar charts less; a figure a run
    cannot draw is skipped in less). A short run spends more on its figures than on training."""
    from common.render.figures import figure_png, plot_history, pyplot
    names = [name for name, _ in PARTS[part].figures] if part in PARTS else []
    n_figures = sum("/" not in name or name.split("/", 1)[0] in folders for name in names)
    if not n_figures:
        return 0.0
    history = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.1 / e, "train_acc": 1 - 1 / e, "val_acc": 0.9 - 1 / e}
               for e in range(1, 101)]
    timings, start = [], time.perf_counter()
    pyplot()
    for _ in range(2):  # the first pays matplotlib's fonts and caches, as a part's first figure does
        figure_png(plot_history(history, "timing"))  # as save_figure renders, without writing anywhere
        timings.append(time.perf_counter() - start)
        start = time.perf_counter()
    return timings[0] + timings[1] * (n_figures - 1)


def print_estimate(part: str, config, run: RunOptions, seconds: float, what: str,
                   other: OtherWork | None = None, slowest: float | None = None,
                   figure_folders: tuple[str, ...] = (), preparation: float | None = None) -> int:
    """``--estimate``: one JSON line saying what would run, whether it would be kept instead, how long (``seconds``
    from the fastest timing; "range_seconds" up to ``slowest``, the slowest; both with the figures' drawing,
    ``drawing_seconds`` of the part's folder and ``figure_folders``, unless the run draws none), and how much other
    work ran while it was timed (``other``: busy when other processes held a quarter of a CPU or more).

    ``config`` is the run's config (Part 5: a dict of them, one per model); ``preparation``: the seconds of preparing
    its data (the numpy parts' ``preparation_seconds``), added to both timings. A run that would load the data
    first converts it into the cache (``first_load_seconds``): that is added too, and said apart as
    "first_load_seconds" (0: a cache exists; null: it downloads first, for a time no one can say here), so that
    make all / make reproduce count it once."""
    if preparation is not None:
        seconds, slowest = seconds + preparation, (None if slowest is None else slowest + preparation)
        what += f", {preparation:.0f} s to prepare the data"
    fingerprint = _fingerprint_for(run.out, run)
    done = completed_run(run.out, config, fingerprint) if fingerprint else None
    first_load = 0.0 if done and run.resume else first_load_seconds(run.data)
    if first_load:
        seconds, slowest = seconds + first_load, (None if slowest is None else slowest + first_load)
        what += f", {first_load:.0f} s to convert the data into its cache (the first load only)"
    elif first_load is None:
        what += f", after downloading CIFAR-10 ({OFFICIAL_SIZE}; not counted)"
    recipe = config.recipe if hasattr(config, "recipe") else next(iter(config.values())).recipe
    if run.figures and not (done and run.resume):
        drawing = drawing_seconds(part, figure_folders)
        seconds, slowest = seconds + drawing, (None if slowest is None else slowest + drawing)
        what += f", {drawing:.0f} s to draw the figures"
    print(json.dumps({"part": part, "recipe": recipe, "out": str(run.out), "what": what,
                      "complete": done is not None, "seconds": 0.0 if done and run.resume else round(seconds, 1),
                      **({"range_seconds": [round(seconds, 1), round(max(seconds, slowest), 1)]}
                         if slowest is not None and not (done and run.resume) else {}),
                      "first_load_seconds": None if first_load is None else round(first_load, 1),
                      **(other.fields() if other else {})}))
    return 0


class OtherWork:
    """The CPUs that other processes kept busy while a block ran (Linux's /proc/stat, less this process's own
    CPU time and its children's): an estimate timed beside other work is slower than the run will be alone.

        with OtherWork() as other:
            seconds = time_something()
        other.cpus  # e.g. 0.97: another process held about one CPU
    """

    BUSY = 0.25  # CPUs of other work from which an estimate says the machine was busy

    def __init__(self):
        self.cpus: float | None = None

    @staticmethod
    def _system_busy() -> float | None:
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own() -> float:
        import resource
        return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                     resource.getrusage(resource.RUSAGE_CHILDREN)))

    def __enter__(self) -> OtherWork:
        self._start = (self._system_busy(), self._own(), time.perf_counter())
        return self

    def __exit__(self, *exc) -> None:
        system, own, wall = self._system_busy(), self._own(), time.perf_counter()
        if system is not None and self._start[0] is not None and wall > self._start[2]:
            self.cpus = max(0.0, (system - self._start[0] - (own - self._start[1])) / (wall - self._start[2]))

    def fields(self) -> dict:
        """For the estimate's JSON line: {"other_cpus": ..., "busy": ...}, or {} where it cannot be measured."""
        if self.cpus is None:
            return {}
        return {"other_cpus": round(self.cpus, 2), "busy": self.cpus >= self.BUSY}


def completed_run(out: Path, config, data_fingerprint: str) -> dict | None:
    """The record in ``out`` when it is a complete run of this very config on this very data, else None."""
    path = Path(out) / "metrics.json"
    if not path.is_file():
        return None
    try:
        record = read_record(path)
    except UserError:
        return None
    same = with_defaults(record["config"], config) == config_dict(config) and \
        record["data_fingerprint"] == data_fingerprint
    if not same or record["status"] != STATUS_COMPLETE or "run_id" not in record:
        return None
    return None if mixed_files(Path(out), record) else record


STAMPED_FILES = ("summary.md", "analysis.md", "predictions.npz", "model.npz", "ranking.md", "model_summary.md")


def vouches_for(folder: Path, record: dict, name: str) -> bool:
    """True when ``record`` lists the figure ``name`` and the file in ``folder`` carries its run id: the one
    test of "this figure is this run's", for the page and for redrawing alike."""
    return name in record.get("figures", {}) and run_id_of(Path(folder) / name) == record.get("run_id")


def mixed_files(folder: Path, record: dict) -> list[str]:
    """Files in ``folder`` that another run than ``record``'s wrote (one stopped between its files): its
    figures, the stamped files beside metrics.json and, for Part 5, each model folder's metrics.json.
    [] for a folder that holds one run's files."""
    models = [k for k, v in record.get("config", {}).items() if isinstance(v, dict) and "model" in v] \
        if "models" in record else []
    names = [*record.get("figures", {}), *STAMPED_FILES, *(f"{m}/metrics.json" for m in models)]
    return files_of_other_runs(folder, record.get("run_id"), names) if record.get("run_id") else []


# ----------------------------------------------------------------------------- summary.md

def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def render_summary(metrics: dict) -> str:
    """summary.md: status, headline test figures, baseline, tables, figures with captions, config."""
    from common.render.tables import per_class_table

    note = f" ({metrics['recipe_note']})" if metrics.get("recipe_note") else ""
    lines = [f"# {metrics['title']}", "", f"Recipe: **{metrics['recipe']}**{note}.", ""]
    if metrics["status"] != STATUS_COMPLETE:
        lines += [f"**Status: {metrics['status']}.** {metrics['status_note']}", ""]
    test = metrics["test"]
    headline = {k: v for k, v in test.items() if not isinstance(v, (dict, list))}
    if headline:
        chosen = "after all choices were made on validation" if metrics.get("validation") else \
            "after the last epoch; nothing was chosen from it"
        lines += [f"## Test set (evaluated once, {chosen})", "", "| metric | value |", "|---|---:|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in headline.items()]
        lines.append("")
    if "baseline" in metrics:
        lines += ["## Baseline", ""] + [f"- {k}: {_fmt(v)}" for k, v in metrics["baseline"].items()] + [""]
    for key, section in metrics.get("extra_tables", {}).items():
        lines += [f"## {key}", "", section, ""]
    if "per_class" in test:
        lines += ["## Per class (test)", "", per_class_table(test["per_class"]), ""]
    if metrics["figures"]:
        lines += ["## Figures", ""]
        for name, caption in metrics["figures"].items():
            lines += [f"![{Path(name).stem}]({name})", ""] + ([f"*{caption}*", ""] if caption else [])
    for name, reason in metrics["figures_skipped"].items():
        lines += [f"- {name} not drawn: {reason}"]
    lines += ["", "## Timing", ""] + [f"- {k}: {_fmt(v)}" for k, v in metrics["timing"].items()] + [""]
    lines += ["## Config", "", "```json", json.dumps(metrics["config"], indent=2), "```", "",
              f"Seed {metrics['seed']}, commit {metrics['git_commit']}, data {metrics['data_source']}, "
              f"written {metrics['created']}.", ""]
    return "\n".join(lines)
