"""Part 4's comparison of activations, optimizers and initializations on Part 3's network, and its report.

    config = GridConfig(base=MLPConfig(task="multiclass", hidden=(64,), ...), activations=("relu", "tanh"))
    run_grid_part(config, RunOptions(out=Path("reports/part4"), part="part4", workers=2))

Every run's config is ``replace(config.base, activation=..., optimizer=..., init=..., lr=..., seed=...)``.
With ``scenarios`` the runs are those (activation, optimizer, init) triples at ``base.lr``, as the
recipe of a report has them (report 000's four). Otherwise the whole product runs, and it is made fair like this:
each (optimizer, activation) pair gets the learning rate that did best on validation in a short
sweep (a trial is the first ``sweep_epochs`` epochs of the full run, at its learning rates); every
configuration gets the same epochs, schedule, L2 and early stopping; the ranking is by validation
accuracy, and the top ones are rerun with more seeds. The test set is evaluated once per trained
configuration, for the table, never for a choice.

Runs are independent, so ``RunOptions.workers`` processes train them side by side, one BLAS thread
each (the results are the same numbers as one process gives). Finished runs are kept in
``<out>/runs/`` until the report is written, so ``--resume`` after an interruption trains only
what is left (a long run continues from its own checkpoint).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import signal
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import ClassVar

import numpy as np

from common import metrics
from common.console import EXIT_INTERRUPTED, log
from common.data.cifar10 import Cifar10
from common.data.preprocess import FlatSplits
from common.errors import UserError, check_ranges
from common.experiments.mlp import (
    MLPConfig,
    blas_threads_for,
    checkpoint_tag,
    epoch_seconds,
    load_splits,
    preparation_seconds,
    train_mlp,
)
from common.experiments.record import (
    OtherWork,
    RunOptions,
    keep_complete_run,
    keeps_complete_record,
    new_run_id,
    print_estimate,
    run_record,
    write_run_report,
)
from common.files import ReportFolder, atomic_write_json, atomic_write_npz, atomic_write_text, stamp_markdown
from common.nn.training import STATUS_COMPLETE, STATUS_DIVERGED, STATUS_INCOMPLETE
from common.render.tables import csv_text, markdown_table

ACTIVATIONS = ("sigmoid", "relu", "tanh")
OPTIMIZERS = ("sgd", "momentum", "adam")
INITS = ("small", "he", "xavier")
LR_CANDIDATES = {"sgd": (0.03, 0.1, 0.3), "momentum": (0.003, 0.01, 0.03), "adam": (1e-4, 3e-4, 1e-3)}
REFERENCE_INIT = {"sigmoid": "xavier", "tanh": "xavier", "relu": "he", "identity": "xavier"}
QUICK = {"train_subset": 10_000, "epochs": 8, "sweep_epochs": 2}


@dataclass(frozen=True)
class GridConfig:
    """Everything that decides Part 4's numbers (saved whole in metrics.json)."""

    base: MLPConfig  # what every run shares; a run replaces activation, optimizer, init, lr and seed
    recipe: str = "tuned"
    activations: tuple[str, ...] = ACTIVATIONS
    optimizers: tuple[str, ...] = OPTIMIZERS
    inits: tuple[str, ...] = INITS
    scenarios: tuple[tuple[str, str, str], ...] = ()  # (activation, optimizer, init) to run at base.lr instead
    sweep_epochs: int = 4  # epochs of each learning-rate trial; 0 = no sweep, every run at base.lr
    lr_candidates: dict = field(default_factory=lambda: dict(LR_CANDIDATES))  # tried per optimizer
    reference_init: dict = field(default_factory=lambda: dict(REFERENCE_INIT))  # init of the sweep's trials
    top: int = 3  # configurations rerun with more seeds
    seeds: int = 3  # seeds per top configuration, the first run included
    quick: bool = False  # the QUICK cut: fewer images, epochs and sweep epochs

    RESULT_NEUTRAL: ClassVar[frozenset[str]] = frozenset({"recipe"})  # the rest, base included, changes results

    def __post_init__(self):
        for name in ("activations", "optimizers", "inits"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "scenarios", tuple(tuple(s) for s in self.scenarios))
        check_ranges(self, {"sweep_epochs": (0, True), "top": (0, True), "seeds": (1, True)})
        for name, allowed in (("activations", ACTIVATIONS), ("optimizers", OPTIMIZERS), ("inits", INITS)):
            unknown = [v for v in getattr(self, name) if v not in allowed]
            if unknown:
                raise UserError(f"{name}: unknown {', '.join(map(repr, unknown))}; choose from {', '.join(allowed)}")
        for scenario in self.scenarios:
            for value, allowed, what in zip(scenario, (ACTIVATIONS, OPTIMIZERS, INITS),
                                            ("activation", "optimizer", "initialization")):
                if value not in allowed:
                    raise UserError(f"scenario {' + '.join(scenario)}: unknown {what} {value!r}; choose from "
                                    f"{', '.join(allowed)}")

    def inert_settings(self) -> dict[str, str]:
        """{setting: why it cannot act in this comparison}: a flag given for one of them is refused."""
        inert = {}
        if self.scenarios:
            fixed = "the recipe runs its fixed scenarios (" + "; ".join(" + ".join(s) for s in self.scenarios) + \
                    ") at its own learning rate, with no sweep, ranking or seed reruns"
            inert.update({name: fixed for name in ("activations", "optimizers", "inits", "sweep_epochs", "top",
                                                   "seeds")})
        elif self.top == 0:
            inert["seeds"] = "--top 0 reruns no configuration with more seeds"
        if "momentum" not in {optimizer for _, optimizer, _ in self.combinations}:
            inert["momentum"] = "no run of this comparison uses the momentum optimizer"
        return inert

    @property
    def combinations(self) -> list[tuple[str, str, str]]:
        return list(self.scenarios) or list(itertools.product(self.activations, self.optimizers, self.inits))

    def quick_version(self) -> GridConfig:
        base = replace(self.base, train_subset=self.base.train_subset or QUICK["train_subset"], epochs=QUICK["epochs"])
        return replace(self, base=base, quick=True, sweep_epochs=min(self.sweep_epochs, QUICK["sweep_epochs"]))


def combination_name(run) -> str:
    """'relu + momentum + he': how a configuration of the comparison is named everywhere (tables,
    sentences, the report's scenario names). ``run``: a mapping or an object with activation,
    optimizer and init."""
    get = run.get if isinstance(run, dict) else lambda key: getattr(run, key)
    return f"{get('activation')} + {get('optimizer')} + {get('init')}"


@dataclass
class GridRun:
    """One trained configuration and what it measured."""

    activation: str
    optimizer: str
    init: str
    lr: float
    seed: int
    val_acc: float
    val_loss: float
    test_acc: float
    test_macro_f1: float
    best_epoch: int
    epochs_run: int
    seconds: float
    status: str
    parameters: int = 0
    images_per_second: float = 0.0
    history: list = field(default_factory=list, repr=False)
    test_summary: dict = field(default_factory=dict, repr=False)
    probabilities: np.ndarray | None = field(default=None, repr=False)  # test (N, 10), for the figures

    @property
    def name(self) -> str:
        return combination_name(self)

    def row(self) -> dict:
        return {"activation": self.activation, "optimizer": self.optimizer, "init": self.init, "lr": self.lr,
                "seed": self.seed, "val_acc": self.val_acc, "val_loss": self.val_loss, "test_acc": self.test_acc,
                "test_macro_f1": self.test_macro_f1, "test_macro_precision": self._macro("precision"),
                "test_macro_recall": self._macro("recall"), "best_epoch": self.best_epoch,
                "epochs_run": self.epochs_run, "seconds": self.seconds, "status": self.status}

    def _macro(self, key: str) -> float | None:
        """The test ``key`` (precision, recall) averaged over the classes; None before the test set is seen."""
        per_class = self.test_summary.get("per_class") or {}
        return float(np.mean([scores[key] for scores in per_class.values()])) if per_class else None


# ----------------------------------------------------------------------------- one run

@dataclass(frozen=True)
class RunSpec:
    """One run of the comparison: its config, and whether it is a learning-rate trial."""

    config: MLPConfig
    stop_after: int | None = None  # a trial: the first epochs of the full schedule
    evaluate_test: bool = True

    def key(self, fingerprint: str) -> str:
        """A file name for this run's cache and checkpoint in <out>/runs/."""
        text = checkpoint_tag(self.config, fingerprint) + f"|{self.stop_after}|{self.evaluate_test}"
        c = self.config
        return f"{c.activation}-{c.optimizer}-{c.init}-lr{c.lr:g}-seed{c.seed}" + \
            (f"-trial{self.stop_after}" if self.stop_after else "") + "-" + hashlib.sha1(text.encode()).hexdigest()[:8]


def train_one(spec: RunSpec, splits: FlatSplits, checkpoint: Path | None = None, tag: str = "",
              resume: bool = False) -> GridRun:
    """Train one configuration and measure it (test only when ``spec.evaluate_test``)."""
    start = time.perf_counter()
    config = spec.config
    model, result = train_mlp(config, splits, progress=False, log_epochs=False, stop_after=spec.stop_after,
                              checkpoint=checkpoint, checkpoint_tag=tag, resume=resume)
    best = next((h for h in result.history if h["epoch"] == result.best_epoch), {})
    summary, probabilities = {}, None
    test_acc = test_f1 = float("nan")
    if spec.evaluate_test:
        probabilities = model.probabilities(splits.x_test).astype(np.float32)
        summary = metrics.classification_summary(splits.y_test, probabilities.argmax(axis=1), splits.class_names)
        test_acc, test_f1 = summary["accuracy"], summary["macro_f1"]
    return GridRun(config.activation, config.optimizer, config.init, config.lr, config.seed,
                     best.get("val_acc", float("nan")), result.best_val_loss, test_acc, test_f1, result.best_epoch,
                     len(result.history), time.perf_counter() - start, result.status, model.n_params,
                     result.images_per_second, result.history, summary,
                     probabilities)


class RunCache:
    """Finished runs in <out>/runs/ (JSON and the test probabilities), so a resumed Part 4 trains only
    what is left; each long run's checkpoint lives there too."""

    def __init__(self, folder: Path, fingerprint: str, resume: bool):
        self.folder, self.fingerprint, self.resume = folder, fingerprint, resume
        folder.mkdir(parents=True, exist_ok=True)
        if not resume:  # a fresh start: nothing of an earlier, interrupted comparison is reused
            for path in folder.iterdir():
                path.unlink()

    def checkpoint(self, spec: RunSpec) -> Path:
        return self.folder / f"{spec.key(self.fingerprint)}.checkpoint.npz"

    def get(self, spec: RunSpec) -> GridRun | None:
        path = self.folder / f"{spec.key(self.fingerprint)}.json"
        if not self.resume or not path.is_file():
            return None
        saved = json.loads(path.read_text())
        for key in ("val_acc", "val_loss", "test_acc", "test_macro_f1"):  # JSON keeps NaN as null
            saved[key] = float("nan") if saved[key] is None else saved[key]
        record = GridRun(**saved)
        arrays = path.with_suffix(".npz")
        if arrays.is_file():
            with np.load(arrays) as archive:
                record.probabilities = archive["probabilities"]
        return record

    def put(self, spec: RunSpec, record: GridRun) -> None:
        if record.status == STATUS_INCOMPLETE:
            return
        path = self.folder / f"{spec.key(self.fingerprint)}.json"
        if record.probabilities is not None:
            atomic_write_npz(path.with_suffix(".npz"), probabilities=record.probabilities)
        atomic_write_json(path, {k: v for k, v in asdict(record).items() if k != "probabilities"})


_SPLITS: FlatSplits | None = None  # shared with forked workers (copy-on-write, never copied)


def _worker_start() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the pool's terminate(); stop_on_termination is the parent's
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a closed terminal: the parent stops the pool
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)  # one BLAS thread per process: the workers fill the cores
    except ImportError:  # pragma: no cover
        pass


def _worker_pool(processes: int):
    """A pool of ``processes`` forked workers (one BLAS thread each; what the parent holds when it is
    created, such as ``_SPLITS``, is shared copy-on-write), or None for one process or where this
    platform cannot fork: then the caller works in this process."""
    if processes <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    return multiprocessing.get_context("fork").Pool(processes, initializer=_worker_start)


def concurrent_seconds_per_epoch(config: MLPConfig, workers: int) -> tuple[float, float]:
    """One epoch of ``config`` while ``workers`` forked processes (one BLAS thread each) train at once, as
    ``train_all`` runs them: (fastest, slowest) of the timings (the slowest worker's). Measured, not divided: the
    workers share memory bandwidth and, where the CPUs are hyperthreads, a physical core, so two of them need
    not be twice as fast as one."""
    pool = _worker_pool(workers)
    if pool is None:
        return epoch_seconds(config)
    with pool:
        spans = pool.map(epoch_seconds, [config] * workers, chunksize=1)
    return max(low for low, _ in spans), max(high for _, high in spans)


def _train_in_worker(job: tuple[int, RunSpec, str, str, bool]) -> tuple[int, GridRun]:
    i, spec, checkpoint, tag, resume = job
    return i, train_one(spec, _SPLITS, Path(checkpoint), tag, resume=resume)


def train_all(specs: list[RunSpec], splits: FlatSplits, cache: RunCache, workers: int, bar=None,
              stage: str = "runs") -> list[GridRun]:
    """Train every spec (cached ones are read back), ``workers`` at a time; results in spec order.

    Ctrl-C stops everything: KeyboardInterrupt is raised once the finished runs are cached. Each run trained
    here is a log line naming its ``stage`` (what a log read beside other runs, as make all's, says of progress)."""
    global _SPLITS
    records: dict[int, GridRun] = {}
    todo = []
    start = time.perf_counter()

    def done(record: GridRun, kept: bool = False) -> None:
        if bar is not None:
            bar.update()
        if not kept:
            log.info("%s: %d of %d done (%s, lr %g, seed %d: %.0f s; this stage %.1f min so far)", stage,
                     len(records), len(specs), record.name, record.lr, record.seed, record.seconds,
                     (time.perf_counter() - start) / 60)

    for i, spec in enumerate(specs):
        cached = cache.get(spec)
        if cached is not None:
            records[i] = cached
            done(cached, kept=True)
        else:
            todo.append(i)
    jobs = [(i, specs[i], str(cache.checkpoint(specs[i])), checkpoint_tag(specs[i].config, cache.fingerprint),
             cache.resume) for i in todo]
    _SPLITS = splits  # before the pool forks: its workers inherit the arrays copy-on-write
    pool = _worker_pool(min(workers, len(todo)))
    if pool is None:
        _SPLITS = None
        for i, spec, checkpoint, tag, resume in jobs:
            record = train_one(spec, splits, Path(checkpoint), tag, resume=resume)
            if record.status == STATUS_INCOMPLETE:  # the Solver caught Ctrl-C: stop the whole comparison
                raise KeyboardInterrupt
            cache.put(spec, record)
            records[i] = record
            done(record)
    else:
        try:
            for i, record in pool.imap_unordered(_train_in_worker, jobs):  # cached as each finishes
                cache.put(specs[i], record)
                records[i] = record
                done(record)
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
            _SPLITS = None
    return [records[i] for i in range(len(specs))]


# ----------------------------------------------------------------------------- the comparison

def sweep_learning_rates(config: GridConfig, splits: FlatSplits, cache: RunCache, workers: int,
                         bar=None) -> tuple[dict[tuple[str, str], float], list[dict]]:
    """For each (optimizer, activation): the candidate lr with the best validation accuracy,
    tried with the activation's reference initialization. Returns the choice and one row per trial."""
    pairs = list(itertools.product(config.optimizers, config.activations))
    specs = [RunSpec(replace(config.base, activation=a, optimizer=o, init=config.reference_init[a], lr=lr),
                     stop_after=config.sweep_epochs, evaluate_test=False)
             for o, a in pairs for lr in config.lr_candidates[o]]
    records = train_all(specs, splits, cache, workers, bar, stage="learning-rate trials")
    chosen, rows = {}, []
    for o, a in pairs:
        trials = [(r.val_acc if r.status != STATUS_DIVERGED and np.isfinite(r.val_acc) else -1.0, r.lr)
                  for r in records if (r.optimizer, r.activation) == (o, a)]
        chosen[(o, a)] = max(trials)[1]
        rows += [{"optimizer": o, "activation": a, "init": config.reference_init[a], "lr": lr,
                  "val_acc": score if score >= 0 else float("nan"), "chosen": lr == chosen[(o, a)],
                  "status": "diverged" if score < 0 else "complete"} for score, lr in trials]
        log.info("lr sweep %s + %s: %s -> lr %g", a, o, ", ".join(f"{lr:g}: {s:.4f}" for s, lr in trials),
                 chosen[(o, a)])
    return chosen, rows


def rank(records: list[GridRun]) -> list[GridRun]:
    """Best validation accuracy first; diverged runs last."""
    return sorted(records, key=lambda r: (r.status == STATUS_DIVERGED, -np.nan_to_num(r.val_acc, nan=-1.0)))


def seed_statistics(runs: dict[str, list[GridRun]]) -> list[dict]:
    """Mean and sample std of validation and test accuracy over seeds, per configuration."""
    rows = []
    for name, records in runs.items():
        test = np.array([r.test_acc for r in records])
        val = np.array([r.val_acc for r in records])
        rows.append({"configuration": name, "lr": records[0].lr, "seeds": ", ".join(str(r.seed) for r in records),
                     "val_acc_mean": float(val.mean()), "val_acc_std": float(val.std(ddof=1)) if len(val) > 1 else 0.0,
                     "test_acc_mean": float(test.mean()),
                     "test_acc_std": float(test.std(ddof=1)) if len(test) > 1 else 0.0})
    return rows


def history_key(row: dict) -> str:
    """'relu + sgd + he, lr 0.1, seed 0': a run of the comparison, as metrics.json's "histories" keys it."""
    return f"{combination_name(row)}, lr {row['lr']:g}, seed {row['seed']}"


def run_grid_part(config: GridConfig, run: RunOptions) -> int:
    """Part 4 from config to report folder. Returns the process exit code."""
    with blas_threads_for(config.base.batch_size):  # its workers take one thread each in any case
        return _run_grid_part(config, run)


def _run_grid_part(config: GridConfig, run: RunOptions) -> int:
    n_runs = len(config.combinations)
    n_trials = 0 if config.scenarios or not config.sweep_epochs else \
        sum(len(config.lr_candidates[o]) for o in config.optimizers) * len(config.activations)
    n_seed_runs = 0 if config.scenarios else config.top * (config.seeds - 1)
    if run.estimate:
        workers = max(1, min(run.workers, n_runs))
        with OtherWork() as other:
            setup = preparation_seconds(config.base)  # first, as the numpy parts time it
            per_epoch = [concurrent_seconds_per_epoch(replace(config.base, optimizer=o), workers)
                         for o in sorted({c[1] for c in config.combinations})]
        epochs = n_trials * config.sweep_epochs + (n_runs + n_seed_runs) * config.base.epochs
        fastest, slowest = (epochs * sum(span[i] for span in per_epoch) / len(per_epoch) / workers for i in (0, 1))
        return print_estimate(run.part, config, run, fastest,
                              f"{n_trials} lr trials, {n_runs} runs, {n_seed_runs} seed reruns of "
                              f"{config.base.epochs} epochs on {workers} worker(s)", other, slowest, preparation=setup)
    from tqdm import tqdm

    total_start = time.perf_counter()
    with ReportFolder(run.out) as out:
        if keep_complete_run(out, config, run):
            return 0
        splits, data = load_splits(config.base, run)
        cache = RunCache(out / "runs", data.fingerprint, resume=run.resume)
        log.info("plan: %d lr trials x %d epochs, %d runs x %d epochs, top %d x %d more seeds; %d worker(s)",
                 n_trials, config.sweep_epochs, n_runs, config.base.epochs, config.top if n_seed_runs else 0,
                 config.seeds - 1 if n_seed_runs else 0, run.workers)
        status, note = STATUS_COMPLETE, ""
        records, sweep_rows, seed_runs = [], [], {}
        bar = tqdm(total=n_trials + n_runs + n_seed_runs, desc=run.part, unit="run", disable=not run.progress,
                   dynamic_ncols=True)
        try:
            chosen = {}
            if n_trials:
                chosen, sweep_rows = sweep_learning_rates(config, splits, cache, run.workers, bar)
            specs = [RunSpec(replace(config.base, activation=a, optimizer=o, init=i,
                                     lr=chosen.get((o, a), config.base.lr))) for a, o, i in config.combinations]
            records = train_all(specs, splits, cache, run.workers, bar,
                                stage="scenarios" if config.scenarios else "comparison runs")
            for record in records:
                log.info("%-28s lr %-7g val %.4f test %.4f (%d epochs, %.1f s%s)", record.name, record.lr,
                         record.val_acc, record.test_acc, record.epochs_run, record.seconds,
                         "" if record.status == STATUS_COMPLETE else f", {record.status}")
            if n_seed_runs:
                top = rank(records)[:config.top]
                specs = [RunSpec(replace(config.base, activation=r.activation, optimizer=r.optimizer, init=r.init,
                                         lr=r.lr, seed=seed))
                         for r in top for seed in range(config.base.seed + 1, config.base.seed + config.seeds)]
                extra = iter(train_all(specs, splits, cache, run.workers, bar, stage="seed reruns"))
                seed_runs = {r.name: [r, *(next(extra) for _ in range(config.seeds - 1))] for r in top}
        except KeyboardInterrupt:
            status = STATUS_INCOMPLETE
            note = (f"interrupted after {len(records)} of {n_runs} runs; --resume trains only what is left "
                    f"(finished runs are kept in {out / 'runs'})")
            log.warning("%s", note)
        finally:
            bar.close()
        if not records:
            log.error("no run of the comparison finished; nothing to report. %s", note)
            return EXIT_INTERRUPTED
        if keeps_complete_record(out, status, config):
            return EXIT_INTERRUPTED
        write_grid_report(run.part, out, config, records, sweep_rows, seed_runs, status, note, data, splits,
                          total_start, run.recipe_config)
        if status == STATUS_COMPLETE:
            for path in cache.folder.iterdir():
                path.unlink()
            cache.folder.rmdir()
    return EXIT_INTERRUPTED if status == STATUS_INCOMPLETE else 0


# ----------------------------------------------------------------------------- the report

COLUMNS = ["rank", "activation", "optimizer", "init", "lr", "val_acc", "test_acc", "test_macro_f1", "best_epoch",
           "epochs_run", "seconds", "status"]
FORMATS = {"lr": "g", "val_acc": ".4f", "test_acc": ".4f", "test_macro_f1": ".4f", "seconds": ".1f"}


def write_grid_report(part: str, out: Path, config: GridConfig, records: list[GridRun], sweep_rows: list[dict],
                      seed_runs: dict, status: str, note: str, data: Cifar10, splits: FlatSplits,
                      total_start: float, recipe_config: GridConfig | None = None) -> None:
    """metrics.json (every run's history included), summary.md, predictions.npz (the headline run's) and
    the tables; the figures are drawn from them (common/report/drawing.py)."""
    scenario_mode = bool(config.scenarios)
    run_id = new_run_id()
    ranked = records if scenario_mode else rank(records)  # scenarios: no validation split, nothing is ranked
    headline = ranked[0]
    rows = [{"rank": i + 1, **r.row()} for i, r in enumerate(ranked)]
    tables = {}
    if scenario_mode:
        last = [r.history[-1] if r.history else {} for r in records]
        scenario_rows = [{"scenario": r.name, "lr": r.lr, "test_acc": r.test_acc, "test_macro_f1": r.test_macro_f1,
                          "final_train_loss": h.get("train_loss"), "dead_units": h.get("dead_units"),
                          "saturated_units": h.get("saturated_units"), "loss_rises": metrics.loss_rises(r.history),
                          "epochs_run": r.epochs_run, "seconds": r.seconds, "status": r.status}
                         for r, h in zip(records, last)]
        tables["Scenarios (test set after the last epoch; nothing was chosen; dead and saturated units after the "
               "last epoch on 512 fixed training images, loss_rises the share of epochs whose training loss rose by "
               "over 1 %)"] = \
            markdown_table(scenario_rows, list(scenario_rows[0]),
                           {**FORMATS, "final_train_loss": ".4f", "dead_units": ".1%", "saturated_units": ".1%",
                            "loss_rises": ".1%"})
    else:
        atomic_write_text(out / "ranking.csv", csv_text(rows, COLUMNS))
        ranking_md = markdown_table(rows, COLUMNS, FORMATS)
        atomic_write_text(out / "ranking.md", stamp_markdown(f"# Part 4: ranking by validation accuracy\n\n"
                                                             f"{ranking_md}\n", run_id))
        tables["Ranking (by validation accuracy)"] = ranking_md
        seed_rows = seed_statistics(seed_runs)
        if seed_rows:
            tables[f"Top {len(seed_rows)} over seeds (mean +- std)"] = markdown_table(
                seed_rows, list(seed_rows[0]), {k: ".4f" for k in seed_rows[0] if k.endswith(("mean", "std"))})
        if sweep_rows:
            tables["Learning-rate sweep (validation accuracy)"] = markdown_table(
                sweep_rows, ["optimizer", "activation", "init", "lr", "val_acc", "chosen", "status"],
                {"lr": "g", "val_acc": ".4f"})
    if headline.history and headline.probabilities is not None and np.all(np.isfinite(headline.probabilities)):
        atomic_write_npz(out / "predictions.npz", run_id=run_id, y_true=splits.y_test,
                         y_pred=headline.probabilities.argmax(1), probabilities=headline.probabilities,
                         class_names=np.array(splits.class_names))
    seed_seconds = sum(r.seconds for runs in seed_runs.values() for r in runs[1:])
    record = run_record(part=part, recipe=config.recipe, status=status, status_note=note, config=config,
                        seed=config.base.seed, device="cpu", data_source=data.source,
                        data_fingerprint=data.fingerprint, run_id=run_id, recipe_config=recipe_config)
    record.update({
        "task": "multiclass", "classes": list(splits.class_names), "parameters": headline.parameters,
        "headline": {**headline.row(), "why": "the recipe's first scenario (nothing is chosen without a "
                                              "validation split)" if scenario_mode else
                                       "the best validation accuracy of the grid"},
        "throughput": {"train_images_per_second": headline.images_per_second},
        "test": {k: headline.test_summary[k] for k in ("accuracy", "balanced_accuracy", "macro_f1", "per_class",
                                                         "confusion_matrix")},
        "history": headline.history, "best_epoch": headline.best_epoch, "epochs_run": headline.epochs_run,
        "extra_tables": tables,
        "timing": {"train_seconds": sum(r.seconds for r in records) + seed_seconds},
    })
    if scenario_mode:
        record["scenarios"] = [{**r.row(), "history": r.history} for r in records]
    else:
        record.update({"winner": headline.row(), "ranking": rows, "lr_sweep": sweep_rows,
                       "seeds": seed_statistics(seed_runs), "histories": {history_key(r.row()): r.history
                                                                          for r in records}})
    record = write_run_report(out, record, started=total_start)  # the figures: common/report/drawing.py
    log.info("%s: %s, lr %g: validation %.4f, test %.4f; total %.0f s", "headline scenario" if scenario_mode
             else "winner", headline.name, headline.lr, headline.val_acc, headline.test_acc,
             record["timing"]["total_seconds"])
